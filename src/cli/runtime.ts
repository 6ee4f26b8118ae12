// The runtime builder every command uses: logger, metrics, stop signal, and on demand the data
// directory lock, the HTTP server, the bus, the migrated database, topics and the processor. Each
// part it opens is registered for close(), which closes them in reverse order, once, also when
// start-up fails half way.
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.ts'
import { createKafkaBus } from '../bus/kafka.ts'
import { createMemoryBus } from '../bus/memory.ts'
import type { Bus } from '../bus/types.ts'
import { connectPostgres, openPglite, type Db } from '../store/db.ts'
import { optimisesEmbedded } from '../store/wasm-tier.ts'
import { migrate } from '../store/migrate.ts'
import { TickStore, storedOffsets } from '../store/ticks.ts'
import { startProcessor, type Processor, type ProcessorOptions } from '../processor/processor.ts'
import { createMetrics, type Metrics } from '../metrics/registry.ts'
import { buildApp } from '../api/app.ts'
import type { LiveHub } from '../api/live.ts'
import { ConfigError, ServiceError, TickflowError, errorMessage } from '../errors.ts'
import { SchemaRegistry } from '../bus/registry.ts'
import { tradeEncoder, type TradeEncoder, type WireFormat } from '../bus/wire.ts'
import { createLogger } from './logger.ts'
import { lockDataDir } from './data-lock.ts'
import { EmbeddedStatistics } from '../store/statistics.ts'
import { adoptTopic } from '../store/topics.ts'
import { gatedDb } from './gated-db.ts'
import { makeDirs } from './make-dirs.ts'
import { say } from './say.ts'

/**
 * Messages per batch on the in-process bus (Kafka's stay at 5,000). The embedded store is PGlite
 * in one thread, where a transaction's fixed costs (offsets, the bars of every symbol touched, the
 * hand-over between threads) weigh more: 20,000 replayed 654,140 trades in 15.6-15.9 s against
 * 16.4-16.7 s with 5,000, alternating runs (docs/benchmarks.md). The bus holds two batches before a
 * source waits.
 */
const EMBEDDED_MAX_BATCH = 20_000

export class Runtime {
  readonly log: Logger
  readonly metrics: Metrics
  /** Aborted on the first SIGINT/SIGTERM. */
  readonly signal: AbortSignal
  /** Resolves on the first SIGINT/SIGTERM. */
  readonly stopped: Promise<NodeJS.Signals>
  private readonly closers: { what: string; close: () => Promise<void> | void }[] = []
  private busInstance: Bus | undefined
  private closing: Promise<void> | undefined
  private readonly config: Config
  private readonly name: string

  /**
   * With `thread`, the runtime of a processor thread (`tickflow process --threads`): its log lines
   * say which thread, and the process-wide metrics (CPU, memory) are left to the main thread's.
   */
  constructor(config: Config, name: string, options: { thread?: number } = {}) {
    this.config = config
    this.name = name
    const { thread } = options
    const log = createLogger(config, name)
    this.log = thread === undefined ? log : log.child({ thread })
    this.metrics = createMetrics({ defaultMetrics: thread === undefined })
    const ac = new AbortController()
    this.signal = ac.signal
    this.stopped = new Promise((resolvePromise) => {
      const on = (sig: NodeJS.Signals): void => {
        ac.abort()
        resolvePromise(sig)
      }
      process.once('SIGINT', on)
      process.once('SIGTERM', on)
      this.defer('signal handlers', () => {
        process.off('SIGINT', on)
        process.off('SIGTERM', on)
      })
    })
  }

  /** Registers a clean-up step; steps run in reverse order of registration. */
  defer(what: string, close: () => Promise<void> | void): void {
    this.closers.push({ what, close })
  }

  /** Embedded store only: one process per data directory (no-op with DATABASE_URL). */
  claimDataDir(): void {
    if (this.config.databaseUrl) return
    this.defer('data directory lock', lockDataDir(this.config.dataDir))
  }

  bus(): Bus {
    if (this.busInstance) return this.busInstance
    const c = this.config
    const bus = c.kafkaBrokers
      ? createKafkaBus({
          brokers: c.kafkaBrokers,
          clientId: this.name,
          producerLingerMs: c.producerLinger,
          onWarning: (message, err) => this.log.warn({ err: errorMessage(err) }, message),
        })
      : createMemoryBus({ maxBacklog: 2 * EMBEDDED_MAX_BATCH })
    this.defer('bus', () => bus.close())
    this.busInstance = bus
    return bus
  }

  /**
   * Whether the command is a bulk load (a replay or the simulator at full speed, a daily-bars
   * import): with TICKFLOW_EMBEDDED_OPTIMIZE=auto the embedded store then lets V8 optimise PGlite.
   */
  bulkLoad = false
  /** Set by serveThenOpen: a command that serves (and runs) for long. */
  private serving = false
  /** Set by startAlertWebhooks: the deliverer looks for due deliveries when a batch stored firings. */
  wakeWebhooks?: () => void

  /** Opens the database (no migrations). */
  async openDb(): Promise<Db> {
    // Said where it matters, in the long-running commands and bulk loads; a short one (migrate,
    // purge) keeps its output to its result.
    if (!this.config.databaseUrl) {
      const optimize = optimisesEmbedded(this.config.embeddedOptimize, this.bulkLoad)
      this.log[this.serving || this.bulkLoad ? 'info' : 'debug'](
        { optimize, setting: this.config.embeddedOptimize },
        `embedded database: WebAssembly optimisation ${optimize ? 'on' : 'off'}`,
      )
    }
    const db = await openDatabase(this.config, this.name, this.bulkLoad)
    this.defer('database', () => db.close())
    return db
  }

  /** Opens the database, applies migrations and the bars time zone. */
  async db(): Promise<Db> {
    return this.prepare(await this.openDb())
  }

  private async prepare(db: Db): Promise<Db> {
    const applied = await migrate(db)
    if (applied.length > 0) this.log.info({ applied }, 'database migrations applied')
    if (this.config.barsTimezone) await applyBarsTimezone(db, this.config.barsTimezone)
    if (db.kind === 'pglite') {
      // PGlite runs no autovacuum: the embedded store's statistics are kept here.
      const statistics = new EmbeddedStatistics(db, {
        periodic: !this.bulkLoad,
        onAnalysed: (rows, ms) =>
          this.log.info({ rows, ms: Math.round(ms) }, 'embedded store analysed (planner statistics)'),
        onError: (err) => this.log.warn({ err: errorMessage(err) }, 'analysing the embedded store failed'),
      })
      await statistics.open()
      // Closed after the processor (closers run last first), before the database.
      this.defer('statistics', () => statistics.settle())
      this.statistics = statistics
    }
    return db
  }

  /**
   * Ties the group's stored offsets to the topic's current incarnation (Kafka's topic id). A topic
   * deleted and created again since they were stored numbers its messages from 0 again: the old
   * offsets are dropped, and Kafka's positions of the group with them, so the new topic is read
   * from its start instead of skipped as stored. Returns the id (undefined on the in-process bus).
   */
  private async adoptTopic(db: Db): Promise<string | undefined> {
    const { kafkaTopic: topic, kafkaGroupId: group } = this.config
    const bus = this.bus()
    const topicId = await bus.topicId(topic)
    if (topicId === undefined) return undefined
    const adopted = await adoptTopic(db, group, topic, topicId)
    if (adopted.previous === undefined) return topicId
    await bus
      .forgetPositions(group, topic)
      .catch((err: unknown) =>
        this.log.warn(
          { err: errorMessage(err) },
          "forgetting the group's Kafka positions in the old topic failed",
        ),
      )
    this.log.warn(
      { topic, group, previous: adopted.previous, current: topicId, partitions: adopted.dropped },
      `topic ${topic} was deleted and created again since group ${group} last stored from it: the offsets stored for the old topic are dropped and the new one is read from its start (trades already stored are recognised by their ids)`,
    )
    return topicId
  }

  /** The embedded store's statistics keeper, once its database is prepared. */
  private statistics: EmbeddedStatistics | undefined

  /**
   * Binds the HTTP port first (so a port in use stops the command before it joins a group or
   * writes), serving the API over a database that opens afterwards. Returns the server and the
   * database, the latter after migrations.
   */
  async serveThenOpen(o: {
    api: boolean
    hub?: LiveHub
    kafka?: boolean
    database?: boolean
  }): Promise<{ app: FastifyInstance; db?: Db }> {
    this.serving = true
    const gate = o.api || o.database ? gatedDb(this.config.databaseUrl ? 'postgres' : 'pglite') : undefined
    const readiness: Record<string, () => Promise<void>> = {}
    if (gate) readiness.database = async () => void (await gate.db.query('select 1'))
    if (o.kafka) readiness.kafka = async () => void (await this.bus().endOffsets(this.config.kafkaTopic))
    // A PostgreSQL server is reached first (reading, not writing): unreachable is one line, alone.
    const early = gate && this.config.databaseUrl ? await this.openDb() : undefined
    const app = await this.listen(readiness, o.api ? gate?.db : undefined, o.hub)
    if (!gate) return { app }
    try {
      const db = await this.prepare(early ?? (await this.openDb()))
      gate.open(db)
      return { app, db }
    } catch (err) {
      gate.fail(err)
      throw err
    }
  }

  private async listen(
    readiness: Record<string, () => Promise<void>>,
    db?: Db,
    hub?: LiveHub,
  ): Promise<FastifyInstance> {
    const app = await buildApp({
      metrics: this.metrics,
      readiness,
      db,
      hub,
      corsOrigins: this.config.httpCorsOrigins,
    })
    this.defer('HTTP server', () => app.close())
    const { httpPort: port, httpHost: host } = this.config
    let address: string
    try {
      address = await app.listen({ port, host })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why =
        code === 'EADDRINUSE' ? 'is in use' : code === 'EACCES' ? 'is not permitted' : errorMessage(err)
      throw new TickflowError(
        'TF_HTTP_LISTEN',
        `cannot listen on ${host}:${port}: the port ${why} (--port / HTTP_PORT)`,
        { cause: err },
      )
    }
    const url = `${address}/`
    this.url = url
    // The first line a person sees (also at --log-level warn): where the dashboard is.
    if (db) say(`dashboard ${url}`)
    this.log.info({ url }, 'HTTP listening (/metrics, /healthz, /readyz)')
    return app
  }

  /** The URL the HTTP server listens on (after serveThenOpen). */
  url = ''

  /** Creates the trade topic (and the dead-letter topic on Kafka) when missing. */
  async ensureTopics(db?: Db): Promise<void> {
    const bus = this.bus()
    const c = this.config
    // The in-process bus starts empty each run: its offsets continue from what the store holds.
    const startOffsets =
      bus.kind === 'memory' && db ? await storedOffsets(db, c.kafkaGroupId, c.kafkaTopic) : undefined
    await bus.ensureTopic({
      name: c.kafkaTopic,
      partitions: c.kafkaPartitions,
      replicas: c.kafkaReplication,
      startOffsets,
    })
    if (bus.kind === 'kafka') await bus.ensureTopic({ name: c.dlqTopic, partitions: 1 })
  }

  /** Starts the processor (joins the consumer group) over the migrated database. */
  async startProcessor(
    db: Db,
    extra: Pick<ProcessorOptions, 'onCommitted' | 'wantsBars'> = {},
  ): Promise<Processor> {
    const c = this.config
    const bus = this.bus()
    const store = new TickStore(db)
    await store.createAhead()
    const topicId = await this.adoptTopic(db)
    const statistics = this.statistics
    const onCommitted: ProcessorOptions['onCommitted'] = statistics
      ? (result, bars, now) => {
          statistics.stored(result.stored.length)
          extra.onCommitted?.(result, bars, now)
        }
      : extra.onCommitted
    const processor = startProcessor({
      bus,
      store,
      topic: c.kafkaTopic,
      groupId: c.kafkaGroupId,
      log: this.log,
      metrics: this.metrics,
      validation: { maxSkewMs: c.maxSkew, maxFutureMs: c.maxFuture, maxMessageBytes: c.maxMessageBytes },
      dlqTopic: bus.kind === 'kafka' ? c.dlqTopic : undefined,
      allowedLatenessMs: c.allowedLateness,
      lingerMs: c.batchLinger,
      registry: createRegistry(c),
      maxBatch: bus.kind === 'memory' ? EMBEDDED_MAX_BATCH : undefined,
      onFired: () => this.wakeWebhooks?.(),
      ...extra,
      onCommitted,
      topicId,
    })
    // Partitions are created a day ahead; long-running processors renew them hourly.
    const ahead = setInterval(
      () =>
        void store
          .createAhead()
          .catch((err: unknown) =>
            this.log.warn({ err: errorMessage(err) }, 'creating partitions ahead failed'),
          ),
      3_600_000,
    )
    this.defer('processor', async () => {
      clearInterval(ahead)
      await processor.close()
    })
    return processor
  }

  /** Closes everything opened, newest first; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of this.closers.reverse()) {
        try {
          await c.close()
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, `closing the ${c.what} failed`)
        }
      }
      this.log.flush()
    })()
    return this.closing
  }
}

/** Runs fn over a new runtime and closes the runtime however fn ends. */
export async function withRuntime(
  config: Config,
  name: string,
  fn: (rt: Runtime) => Promise<number>,
): Promise<number> {
  const rt = new Runtime(config, name)
  try {
    return await fn(rt)
  } finally {
    await rt.close()
  }
}

export async function openDatabase(config: Config, applicationName: string, bulkLoad = false): Promise<Db> {
  if (!config.databaseUrl) {
    const dir = resolve(config.dataDir, 'pglite')
    makeDirs(dir)
    return openPglite(dir, { optimize: optimisesEmbedded(config.embeddedOptimize, bulkLoad) })
  }
  const db = connectPostgres(config.databaseUrl, { applicationName })
  try {
    await db.query('select 1')
  } catch (err) {
    await db.close().catch(() => {})
    const url = new URL(config.databaseUrl)
    throw new ServiceError(
      'postgres',
      `cannot connect to PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname} (DATABASE_URL): ${errorMessage(err)}`,
      { cause: err },
    )
  }
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

export function createRegistry(config: Config): SchemaRegistry | undefined {
  if (!config.schemaRegistryUrl) return undefined
  return new SchemaRegistry({
    url: config.schemaRegistryUrl,
    username: config.schemaRegistryUsername,
    password: config.schemaRegistryPassword,
  })
}

/** Avro when a registry is configured, unless TICKFLOW_WIRE_FORMAT says otherwise. */
export function wireFormatOf(config: Config): WireFormat {
  const format = config.wireFormat ?? (config.schemaRegistryUrl ? 'avro' : 'json')
  if (format === 'avro' && !config.schemaRegistryUrl)
    throw new ConfigError(
      'invalid TICKFLOW_WIRE_FORMAT: avro needs SCHEMA_REGISTRY_URL (or --schema-registry)',
    )
  return format
}

/** The producer's encoder; registers the trade schema first when the format is Avro. */
export function createEncoder(config: Config, log: Logger, signal?: AbortSignal): Promise<TradeEncoder> {
  return tradeEncoder({
    format: wireFormatOf(config),
    registry: createRegistry(config),
    topic: config.kafkaTopic,
    signal,
    onRetry: (err, attempt) =>
      log.warn({ err: errorMessage(err), attempt }, 'schema registry unreachable; retrying'),
  })
}
