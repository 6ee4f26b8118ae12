// `tickflow replay FILE --format daily-bars`: daily OHLCV rows straight into bars (1d).
import { basename } from 'node:path'
import { importDailyBars, isGzipDailyFile } from '../store/daily-import.ts'
import { readProgress } from '../metrics/file-progress.ts'
import { startFileProgress } from './progress.ts'
import type { CommandContext } from './command.ts'
import { withRuntime } from './runtime.ts'
import { say } from './say.ts'
import { columnMap } from './source-options.ts'
import { replayFile } from './replay-file.ts'

export async function runDailyImport(ctx: CommandContext): Promise<number> {
  const file = replayFile(ctx)
  let line = ''
  const code = await withRuntime(ctx.config, 'tickflow-replay', async (rt) => {
    await isGzipDailyFile(file) // a file it cannot read is refused before the store is created
    rt.claimDataDir()
    rt.bulkLoad = true
    const db = await rt.db()
    const started = Date.now()
    const stopBar = startFileProgress(file, {
      label: `import ${basename(file)}`,
      count: () => (readProgress(file)?.read ?? 0) / 1000,
      unit: 'kB',
    })
    rt.defer('progress bar', stopBar)
    const r = await importDailyBars(db, file, columnMap(ctx.flags.columns))
    stopBar()
    line = `${r.bars} daily bars imported, ${r.deadLetters} rows dead-lettered (${((Date.now() - started) / 1000).toFixed(1)} s)`
    return 0
  })
  say(line)
  return code
}
