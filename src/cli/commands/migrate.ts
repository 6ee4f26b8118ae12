import type { Command } from '../command.ts'
import { migrate as applyMigrations } from '../../store/migrate.ts'
import { applyBarsTimezone, withRuntime } from '../runtime.ts'

export const migrate: Command = {
  summary: 'apply database migrations',
  async run(ctx) {
    return withRuntime(ctx.config, 'tickflow-migrate', async (rt) => {
      rt.claimDataDir()
      const db = await rt.openDb()
      const applied = await applyMigrations(db)
      // The daily bars' time zone belongs to the database: migrate refuses a different one too.
      if (ctx.config.barsTimezone) await applyBarsTimezone(db, ctx.config.barsTimezone)
      process.stdout.write(
        applied.length > 0 ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n',
      )
      return 0
    })
  },
}
