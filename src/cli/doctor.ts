// `tickflow doctor`: checks each configured service and prints one line per check, saying exactly
// what is wrong and what to do: `ok`, `FAIL` or `note` (worth knowing, not a failure). Exit code 0
// when nothing failed.
import { Admin } from '@platformatic/kafka'
import type { Config } from '../config/schema.ts'
import { connectPostgres } from '../store/db.ts'
import { listMigrations } from '../store/migrate.ts'
import { errorMessage } from '../errors.ts'
import { describeProbe, probeTcp } from './probe.ts'
import { registryChecks } from './doctor-registry.ts'
import { registry, type SourceRegistry } from '../sources/registry.ts'
import { withTimeout } from '../util/timeout.ts'

export interface Check {
  name: string
  status: 'ok' | 'FAIL' | 'note'
  detail: string
}

const PROBE_MS = 5_000

function hostPort(address: string, defaultPort: number): [string, number] {
  const i = address.lastIndexOf(':')
  return i < 0 ? [address, defaultPort] : [address.slice(0, i), Number(address.slice(i + 1))]
}

function answer<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(p, ms, () => {
    throw new Error(`${what}: no answer within ${ms / 1000} s`)
  })
}

async function kafkaChecks(config: Config, brokers: string[]): Promise<Check[]> {
  const probes = await Promise.all(brokers.map((b) => probeTcp(...hostPort(b, 9092), PROBE_MS)))
  const open = brokers.filter((_, i) => probes[i]!.state === 'open')
  const down = brokers
    .map((b, i) => ({ b, p: probes[i]! }))
    .filter((x) => x.p.state !== 'open')
    .map((x) => describeProbe('Kafka broker', x.b, x.p))
  if (open.length === 0)
    return [{ name: 'kafka', status: 'FAIL', detail: `${down.join('; ')} (KAFKA_BROKERS)` }]
  const admin = new Admin({
    clientId: 'tickflow-doctor',
    bootstrapBrokers: open,
    retries: 0,
    timeout: PROBE_MS,
  })
  try {
    const apis = await answer(admin.listApis(), PROBE_MS * 2, 'Kafka ApiVersions')
    const meta = await answer(admin.metadata({ topics: [] }), PROBE_MS * 2, 'Kafka metadata')
    const topics = await answer(admin.listTopics(), PROBE_MS * 2, 'Kafka topics')
    const range = (name: string): string => {
      const a = apis.find((x) => x.name === name)
      return a ? `${name} v${a.minVersion}-${a.maxVersion}` : `${name} missing`
    }
    const checks: Check[] = [
      {
        name: 'kafka',
        status: 'ok',
        detail: `${open.join(',')}: cluster ${meta.id}, ${meta.brokers.size} broker(s); ApiVersions ${apis.length} APIs (${range('Produce')}, ${range('Fetch')})`,
      },
    ]
    for (const d of down) checks.push({ name: 'kafka', status: 'FAIL', detail: d })
    for (const topic of [config.kafkaTopic, config.dlqTopic])
      checks.push(
        topics.includes(topic)
          ? { name: 'topic', status: 'ok', detail: `${topic} exists` }
          : {
              name: 'topic',
              status: 'note',
              detail: `${topic} does not exist yet (tickflow ingest/process create it)`,
            },
      )
    return checks
  } catch (err) {
    return [
      {
        name: 'kafka',
        status: 'FAIL',
        detail: `Kafka at ${open.join(',')} accepts connections but: ${errorMessage(err)}`,
      },
    ]
  } finally {
    await admin.close().catch(() => {})
  }
}

async function postgresChecks(databaseUrl: string): Promise<Check[]> {
  const url = new URL(databaseUrl)
  const address = `${url.hostname}:${url.port || 5432}`
  const probe = await probeTcp(url.hostname, Number(url.port || 5432), PROBE_MS)
  if (probe.state !== 'open')
    return [
      {
        name: 'postgres',
        status: 'FAIL',
        detail: `${describeProbe('PostgreSQL', address, probe)} (DATABASE_URL)`,
      },
    ]
  const db = connectPostgres(databaseUrl, { max: 1, applicationName: 'tickflow-doctor' })
  try {
    const [v] = await answer(
      db.query<{ server_version: string }>('show server_version'),
      PROBE_MS * 2,
      'PostgreSQL',
    )
    const checks: Check[] = [
      {
        name: 'postgres',
        status: 'ok',
        detail: `PostgreSQL ${v?.server_version ?? '(version not reported)'} at ${address}${url.pathname}`,
      },
    ]
    checks.push(await migrationCheck(db))
    return checks
  } catch (err) {
    return [
      {
        name: 'postgres',
        status: 'FAIL',
        detail: `PostgreSQL at ${address}${url.pathname} (DATABASE_URL): ${errorMessage(err)}`,
      },
    ]
  } finally {
    await db.close().catch(() => {})
  }
}

async function migrationCheck(db: ReturnType<typeof connectPostgres>): Promise<Check> {
  const [table] = await db.query<{ t: string | null }>("select to_regclass('schema_migrations')::text as t")
  const applied = new Set(
    table?.t
      ? (await db.query<{ version: number }>('select version from schema_migrations')).map((r) => r.version)
      : [],
  )
  const all = listMigrations()
  const pending = all.filter((m) => !applied.has(m.version)).map((m) => `${m.version} ${m.name}`)
  const done = all.length - pending.length
  const known = new Set(all.map((m) => m.version))
  const newer = [...applied].filter((v) => !known.has(v)).sort((a, b) => a - b)
  if (newer.length > 0)
    return {
      name: 'migrations',
      status: 'FAIL',
      detail: `a newer tickflow migrated this store (migrations ${newer.join(', ')} are unknown here): run that version, or use another store`,
    }
  return pending.length === 0
    ? { name: 'migrations', status: 'ok', detail: `${done}/${all.length} applied` }
    : {
        name: 'migrations',
        status: 'FAIL',
        detail: `${done}/${all.length} applied; pending: ${pending.join(', ')} (run tickflow migrate)`,
      }
}

/** The selected source's own check, as its file declares it (sources/registry.ts). */
async function sourceCheck(
  config: Config,
  sourceSettings: Record<string, unknown>,
  reg: SourceRegistry,
): Promise<Check> {
  const c = await reg.check(config.source, sourceSettings)
  return { name: config.source, ...c }
}

/** Every check, in the order printed. */
export async function doctorChecks(
  config: Config,
  sourceSettings: Record<string, unknown>,
  reg: SourceRegistry = registry,
): Promise<Check[]> {
  const nodeMajor = Number(process.versions.node.split('.')[0])
  const checks: Check[] = [
    { name: 'node', status: nodeMajor >= 22 ? 'ok' : 'FAIL', detail: `Node.js ${process.versions.node}` },
  ]
  const embeddedBus: Check = {
    name: 'kafka',
    status: 'ok',
    detail: 'KAFKA_BROKERS not set: the in-process bus is used (tickflow up)',
  }
  const embeddedStore: Check = {
    name: 'postgres',
    status: 'ok',
    detail: `DATABASE_URL not set: embedded PGlite in ${config.dataDir}/pglite (migrated when opened)`,
  }
  const [kafka, postgres, schemaRegistry] = await Promise.all([
    config.kafkaBrokers ? kafkaChecks(config, config.kafkaBrokers) : [embeddedBus],
    config.databaseUrl ? postgresChecks(config.databaseUrl) : [embeddedStore],
    registryChecks(config, PROBE_MS),
  ])
  checks.push(...kafka, ...postgres, ...schemaRegistry, await sourceCheck(config, sourceSettings, reg))
  return checks
}

export async function doctor(config: Config, sourceSettings: Record<string, unknown>): Promise<number> {
  const checks = await doctorChecks(config, sourceSettings)
  for (const c of checks) process.stdout.write(`${c.status.padEnd(4)} ${c.name.padEnd(12)} ${c.detail}\n`)
  return checks.some((c) => c.status === 'FAIL') ? 1 : 0
}
