// `tickflow doctor`: checks each configured service and prints one line per check, saying exactly
// what is wrong and what to do. Exit code 0 when everything configured works.
import type { Config } from '../config/schema.ts'
import { createKafkaBus } from '../bus/kafka.ts'
import { connectPostgres } from '../store/db.ts'
import { listMigrations } from '../store/migrate.ts'
import { errorMessage } from '../errors.ts'

interface Check {
  name: string
  ok: boolean
  detail: string
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function doctor(config: Config): Promise<number> {
  const checks: Check[] = []
  const nodeMajor = Number(process.versions.node.split('.')[0])
  checks.push({ name: 'node', ok: nodeMajor >= 22, detail: `Node.js ${process.versions.node}` })
  if (config.kafkaBrokers) {
    const bus = createKafkaBus({ brokers: config.kafkaBrokers, clientId: 'tickflow-doctor' })
    try {
      const end = await withTimeout(
        bus.endOffsets(config.kafkaTopic),
        10_000,
        `Kafka at ${config.kafkaBrokers.join(',')}`,
      )
      checks.push({
        name: 'kafka',
        ok: true,
        detail:
          end.size > 0
            ? `${config.kafkaBrokers.join(',')}: topic ${config.kafkaTopic} has ${end.size} partitions, ${[...end.values()].reduce((a, b) => a + b, 0n)} messages`
            : `${config.kafkaBrokers.join(',')} answers; topic ${config.kafkaTopic} does not exist yet (tickflow ingest/process create it)`,
      })
    } catch (err) {
      checks.push({
        name: 'kafka',
        ok: false,
        detail: `cannot reach Kafka at ${config.kafkaBrokers.join(',')} (KAFKA_BROKERS): ${errorMessage(err)}`,
      })
    } finally {
      await bus.close().catch(() => {})
    }
  } else {
    checks.push({
      name: 'kafka',
      ok: true,
      detail: 'KAFKA_BROKERS not set: the in-process bus is used (tickflow up)',
    })
  }
  if (config.databaseUrl) {
    const db = connectPostgres(config.databaseUrl, { max: 1, applicationName: 'tickflow-doctor' })
    try {
      const [v] = await withTimeout(db.query<{ v: string }>('show server_version'), 10_000, 'PostgreSQL')
      const applied = await db
        .query<{ version: number }>('select version from schema_migrations')
        .catch(() => [])
      const want = listMigrations().length
      checks.push({
        name: 'postgres',
        ok: applied.length === want,
        detail: `PostgreSQL ${v?.v}; ${applied.length}/${want} migrations applied${applied.length === want ? '' : ' (run tickflow migrate)'}`,
      })
    } catch (err) {
      const url = new URL(config.databaseUrl)
      checks.push({
        name: 'postgres',
        ok: false,
        detail: `cannot reach PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname} (DATABASE_URL): ${errorMessage(err)}`,
      })
    } finally {
      await db.close().catch(() => {})
    }
  } else {
    checks.push({
      name: 'postgres',
      ok: true,
      detail: `DATABASE_URL not set: embedded PGlite in ${config.dataDir}/pglite`,
    })
  }
  const keys: [string, string, unknown][] = [
    ['finnhub', 'FINNHUB_API_KEY', config.finnhubApiKey],
    ['alpaca', 'ALPACA_KEY_ID and ALPACA_SECRET_KEY', config.alpacaKeyId && config.alpacaSecretKey],
    ['polygon', 'POLYGON_API_KEY', config.polygonApiKey],
    ['alphavantage', 'ALPHAVANTAGE_API_KEY', config.alphavantageApiKey],
  ]
  for (const [name, env, value] of keys) {
    if (config.source === name)
      checks.push({
        name,
        ok: Boolean(value),
        detail: value ? `${env} is set` : `--source ${name} needs ${env}`,
      })
  }
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(12)} ${c.detail}\n`)
  return checks.every((c) => c.ok) ? 0 : 1
}
