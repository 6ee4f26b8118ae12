// Builds the pieces a command needs from the configuration: the bus (Kafka when KAFKA_BROKERS is
// set, else in-process), the database (PostgreSQL when DATABASE_URL is set, else PGlite in the data
// directory), logger and metrics; and the source named by --source.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.ts'
import { createKafkaBus } from '../bus/kafka.ts'
import { createMemoryBus } from '../bus/memory.ts'
import type { Bus } from '../bus/types.ts'
import { connectPostgres, openPglite, type Db } from '../store/db.ts'
import { migrate } from '../store/migrate.ts'
import { ConfigError, errorMessage } from '../errors.ts'

export function createBus(config: Config, log: Logger, clientId: string): Bus {
  if (!config.kafkaBrokers) return createMemoryBus()
  return createKafkaBus({
    brokers: config.kafkaBrokers,
    clientId,
    onWarning: (message, err) => log.warn({ err: errorMessage(err) }, message),
  })
}

export async function openDb(config: Config, applicationName: string): Promise<Db> {
  if (config.databaseUrl) return connectPostgres(config.databaseUrl, { applicationName })
  const dir = resolve(config.dataDir, 'pglite')
  mkdirSync(dir, { recursive: true })
  return openPglite(dir)
}

export async function openMigratedDb(config: Config, applicationName: string, log: Logger): Promise<Db> {
  const db = await openDb(config, applicationName)
  const applied = await migrate(db)
  if (applied.length > 0) log.info({ applied }, 'database migrations applied')
  if (config.barsTimezone) await applyBarsTimezone(db, config.barsTimezone)
  return db
}

/** Daily bars' time zone is a property of the database: it can change only while no bars exist. */
export async function applyBarsTimezone(db: Db, tz: string): Promise<void> {
  const [current] = await db.query<{ value: string }>(
    "select value from settings where key = 'bars_timezone'",
  )
  if (current?.value === tz) return
  const [any] = await db.query("select 1 from bars where interval = '1d' and origin = 'trades' limit 1")
  if (any)
    throw new ConfigError(
      `invalid TICKFLOW_BARS_TIMEZONE: ${JSON.stringify(tz)}: this database's daily bars are already aligned to ${current?.value ?? 'UTC'}`,
    )
  await db.query("update settings set value = $1 where key = 'bars_timezone'", [tz])
}

/** Resolves on the first SIGINT/SIGTERM; the AbortSignal fires at the same moment. */
export function stopSignal(): { signal: AbortSignal; stopped: Promise<NodeJS.Signals> } {
  const ac = new AbortController()
  const stopped = new Promise<NodeJS.Signals>((resolvePromise) => {
    const on = (sig: NodeJS.Signals): void => {
      ac.abort()
      resolvePromise(sig)
    }
    process.once('SIGINT', on)
    process.once('SIGTERM', on)
  })
  return { signal: ac.signal, stopped }
}
