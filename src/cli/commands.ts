// The commands of `tickflow`. Each builds what it needs from the configuration, runs until its
// work is done or SIGINT/SIGTERM, then flushes, commits and closes in order.
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.ts'
import { ConfigError, UsageError, errorMessage } from '../errors.ts'
import { createMetrics, type Metrics } from '../metrics/registry.ts'
import { buildApp } from '../api/app.ts'
import type { Bus } from '../bus/types.ts'
import type { Db } from '../store/db.ts'
import { TickStore, storedOffsets } from '../store/ticks.ts'
import { migrate } from '../store/migrate.ts'
import { startProcessor, type Processor } from '../processor/processor.ts'
import { pump } from '../sources/pump.ts'
import { sources } from '../sources/registry.ts'
import type { Source } from '../sources/types.ts'
import { createLogger } from './logger.ts'
import { createBus, openDb, openMigratedDb, stopSignal } from './runtime.ts'
import { doctor } from './doctor.ts'
import { importDailyBars } from '../store/daily-import.ts'
import { LiveHub, type LiveEvent } from '../api/live.ts'
import { startPoller } from '../api/poller.ts'
import type { BatchResult } from '../store/ticks.ts'
import type { BarUpdate } from '../processor/lateness.ts'

function liveEvents(result: BatchResult, bars: BarUpdate[]): LiveEvent[] {
  const events: LiveEvent[] = result.stored.map((t) => ({
    type: 'trade',
    data: { symbol: t.symbol, ts: t.ts, price: t.price, size: t.size, source: t.source },
  }))
  for (const b of bars) events.push({ type: 'bar', data: b })
  return events
}

export interface CommandContext {
  config: Config
  args: string[]
  flags: Record<string, string | undefined>
  booleans: Record<string, unknown>
}

export interface Command {
  summary: string
  /** The command checks its own flags: everything after its name reaches it unparsed in args. */
  rawArgs?: boolean
  run(ctx: CommandContext): Promise<number>
}

function sourceFor(
  ctx: CommandContext,
  name: string,
  log: Logger,
  metrics: Metrics,
  signal: AbortSignal,
): Source {
  const adapter = sources[name]
  if (!adapter)
    throw new ConfigError(
      `invalid --source / TICKFLOW_SOURCE ${JSON.stringify(name)}: one of ${Object.keys(sources).join(', ')}`,
    )
  const c = ctx.config
  let raw: Record<string, unknown>
  if (name === 'simulator') {
    raw = {
      symbols: c.symbols,
      rate: c.rate,
      realtime: c.rate > 0,
      count: c.count,
      durationMs: c.duration,
      seed: c.seed,
      start: c.start,
    }
  } else if (name === 'replay') {
    const file = ctx.args[0] ?? ctx.flags.file
    if (!file) throw new UsageError('replay needs a file: tickflow replay FILE')
    const columns = Object.fromEntries(
      (ctx.flags.columns ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('=') as [string, string]),
    )
    raw = {
      file,
      speed: c.speed,
      format: ctx.flags.format ?? 'auto',
      columns,
      source: ctx.flags['source-name'] ?? 'replay',
      symbol: ctx.flags.symbol,
      progress: process.stderr.isTTY,
    }
  } else {
    // Provider adapters: keys and base URLs from the configuration (undefined = the adapter's default).
    const byProvider: Record<string, Record<string, unknown>> = {
      binance: { baseUrl: c.binanceWsUrl },
      finnhub: { apiKey: c.finnhubApiKey, baseUrl: c.finnhubWsUrl },
      alpaca: {
        keyId: c.alpacaKeyId,
        secretKey: c.alpacaSecretKey,
        baseUrl: c.alpacaWsUrl,
        feed: c.alpacaFeed,
      },
      polygon: { apiKey: c.polygonApiKey, baseUrl: c.polygonWsUrl },
      alphavantage: { apiKey: c.alphavantageApiKey, baseUrl: c.alphavantageUrl },
    }
    const needs: Record<string, [string, unknown][]> = {
      finnhub: [['FINNHUB_API_KEY', c.finnhubApiKey]],
      alpaca: [
        ['ALPACA_KEY_ID', c.alpacaKeyId],
        ['ALPACA_SECRET_KEY', c.alpacaSecretKey],
      ],
      polygon: [['POLYGON_API_KEY', c.polygonApiKey]],
      alphavantage: [['ALPHAVANTAGE_API_KEY', c.alphavantageApiKey]],
    }
    const missing = (needs[name] ?? []).filter(([, v]) => v === undefined).map(([k]) => k)
    if (missing.length > 0) throw new ConfigError(`--source ${name} needs ${missing.join(' and ')}`)
    raw = { symbols: c.symbols, ...byProvider[name] }
  }
  const parsed = adapter.options.safeParse(raw)
  if (!parsed.success)
    throw new ConfigError(
      `invalid options for source ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  return adapter.create(parsed.data, { log: log.child({ source: name }), metrics, signal })
}

async function listen(
  config: Config,
  metrics: Metrics,
  log: Logger,
  readiness: Record<string, () => Promise<void>>,
  db?: Db,
  hub?: LiveHub,
) {
  const app = await buildApp({ metrics, readiness, db, hub })
  const address = await app.listen({ port: config.httpPort, host: config.httpHost })
  log.info({ address }, 'HTTP listening (/metrics, /healthz, /readyz)')
  return app
}

/** Waits until the processor has stored everything the topic holds (or the timeout passes). */
async function caughtUp(bus: Bus, db: Db, config: Config, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const [end, stored] = await Promise.all([
      bus.endOffsets(config.kafkaTopic),
      storedOffsets(db, config.kafkaGroupId, config.kafkaTopic),
    ])
    if ([...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)) return true
    await sleep(100)
  }
  return false
}

/** source → bus → processor → store, in one process; stops when the source ends or on a signal. */
async function runPipeline(ctx: CommandContext, sourceName: string): Promise<number> {
  const { config } = ctx
  const log = createLogger(config, 'tickflow')
  const metrics = createMetrics()
  const { signal, stopped } = stopSignal()
  // Source options are checked before anything starts, so a bad one cannot leave a server running.
  const source = sourceFor(ctx, sourceName, log, metrics, signal)
  const bus = createBus(config, log, 'tickflow')
  const db = await openMigratedDb(config, 'tickflow-up', log)
  const store = new TickStore(db)
  const hub = new LiveHub()
  let processor: Processor | undefined
  try {
    await store.createAhead()
    const startOffsets =
      bus.kind === 'memory' ? await storedOffsets(db, config.kafkaGroupId, config.kafkaTopic) : undefined
    await bus.ensureTopic({
      name: config.kafkaTopic,
      partitions: config.kafkaPartitions,
      replicas: config.kafkaReplication,
      startOffsets,
    })
    if (bus.kind === 'kafka') await bus.ensureTopic({ name: config.dlqTopic, partitions: 1 })
    processor = startProcessor({
      bus,
      store,
      topic: config.kafkaTopic,
      groupId: config.kafkaGroupId,
      log,
      metrics,
      validation: { maxSkewMs: config.maxSkew },
      dlqTopic: bus.kind === 'kafka' ? config.dlqTopic : undefined,
      allowedLatenessMs: config.allowedLateness,
      onCommitted: (result, bars) => hub.publish(liveEvents(result, bars)),
    })
    const app = await listen(
      config,
      metrics,
      log,
      { database: async () => void (await db.query('select 1')) },
      db,
      hub,
    )
    log.info(
      { bus: bus.kind, store: db.kind, source: sourceName, topic: config.kafkaTopic },
      'pipeline started',
    )
    const producer = bus.producer()
    const produced = pump({ source, producer, topic: config.kafkaTopic, log, metrics })
    const processorFailed = processor.done.then(() => {
      throw new Error('processor stopped')
    })
    const sent = await Promise.race([produced, processorFailed])
    const complete = signal.aborted ? true : await caughtUp(bus, db, config, 120_000)
    await processor.close()
    await producer.close()
    await app.close()
    const rows = await db.query<{ n: string }>('select count(*)::text as n from ticks')
    const deadRows = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
    log.info({ sent, ticks: rows[0]?.n, deadLetters: deadRows[0]?.n, complete }, 'pipeline stopped')
    process.stderr.write(
      `tickflow: ${sent} trades produced; the store holds ${rows[0]?.n} ticks and ${deadRows[0]?.n} dead letters (${db.kind})\n`,
    )
    void stopped
    return complete ? 0 : 1
  } finally {
    await processor?.close().catch(() => {})
    await bus.close()
    await db.close()
  }
}

function requireKafka(config: Config, command: string): void {
  if (!config.kafkaBrokers)
    throw new ConfigError(
      `tickflow ${command} needs KAFKA_BROKERS (or --brokers); use tickflow up for the embedded pipeline`,
    )
}

export const commands: Record<string, Command> = {
  up: {
    summary:
      'the whole pipeline in one process (embedded bus and PGlite unless KAFKA_BROKERS/DATABASE_URL are set)',
    run: (ctx) => runPipeline(ctx, ctx.config.source),
  },
  replay: {
    summary: 'replay a recorded file (CSV, NDJSON, Binance feed; gzip ok): --speed 0|1|N',
    async run(ctx) {
      if (ctx.flags.format === 'daily-bars') return runDailyImport(ctx)
      if (!ctx.config.kafkaBrokers) return runPipeline(ctx, 'replay')
      return runIngest(ctx, 'replay')
    },
  },
  ingest: {
    summary: 'the producer service: source → Kafka',
    async run(ctx) {
      requireKafka(ctx.config, 'ingest')
      return runIngest(ctx, ctx.config.source)
    },
  },
  process: {
    summary: 'the processor service: Kafka → PostgreSQL',
    async run(ctx) {
      const { config } = ctx
      requireKafka(config, 'process')
      const log = createLogger(config, 'tickflow-process')
      const metrics = createMetrics()
      const { stopped } = stopSignal()
      const bus = createBus(config, log, 'tickflow-process')
      const db = await openMigratedDb(config, 'tickflow-process', log)
      const store = new TickStore(db)
      await store.createAhead()
      await bus.ensureTopic({
        name: config.kafkaTopic,
        partitions: config.kafkaPartitions,
        replicas: config.kafkaReplication,
      })
      await bus.ensureTopic({ name: config.dlqTopic, partitions: 1 })
      const processor = startProcessor({
        bus,
        store,
        topic: config.kafkaTopic,
        groupId: config.kafkaGroupId,
        log,
        metrics,
        validation: { maxSkewMs: config.maxSkew },
        dlqTopic: config.dlqTopic,
        allowedLatenessMs: config.allowedLateness,
      })
      const ahead = setInterval(
        () =>
          void store
            .createAhead()
            .catch((err: unknown) =>
              log.warn({ err: errorMessage(err) }, 'creating partitions ahead failed'),
            ),
        3_600_000,
      )
      const app = await listen(config, metrics, log, {
        database: async () => void (await db.query('select 1')),
        kafka: async () => void (await bus.endOffsets(config.kafkaTopic)),
      })
      log.info({ topic: config.kafkaTopic, group: config.kafkaGroupId }, 'processor started')
      let code = 0
      await Promise.race([
        stopped,
        processor.done.catch((err: unknown) => {
          log.error({ err: errorMessage(err) }, 'processor failed')
          code = 1
        }),
      ])
      clearInterval(ahead)
      await processor.close()
      await app.close()
      await bus.close()
      await db.close()
      log.info('processor stopped')
      return code
    },
  },
  serve: {
    summary: 'API, dashboard and /metrics',
    async run(ctx) {
      const { config } = ctx
      const log = createLogger(config, 'tickflow-serve')
      const metrics = createMetrics()
      const { stopped } = stopSignal()
      const db = await openMigratedDb(config, 'tickflow-serve', log)
      const hub = new LiveHub()
      const stopPolling = startPoller(db, hub, 500, (err) =>
        log.warn({ err: errorMessage(err) }, 'live tail poll failed'),
      )
      const app = await listen(
        config,
        metrics,
        log,
        { database: async () => void (await db.query('select 1')) },
        db,
        hub,
      )
      await stopped
      stopPolling()
      await app.close()
      await db.close()
      return 0
    },
  },
  migrate: {
    summary: 'apply database migrations',
    async run(ctx) {
      const db = await openDb(ctx.config, 'tickflow-migrate')
      try {
        const applied = await migrate(db)
        process.stdout.write(
          applied.length > 0 ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n',
        )
        return 0
      } finally {
        await db.close()
      }
    },
  },
  doctor: {
    summary: 'check Kafka, PostgreSQL and provider keys; say exactly what is wrong',
    run: (ctx) => doctor(ctx.config),
  },
  bench: {
    rawArgs: true,
    summary:
      'the benchmark harness: Kafka and COPY limits, pipeline throughput, latency, memory, naive baseline',
    async run(ctx) {
      // The harness lives in bench/ (it starts its own broker like the tests) and checks its flags.
      const script = join(import.meta.dirname, '../../bench/run.ts')
      if (!existsSync(script)) throw new UsageError('tickflow bench needs a source checkout (bench/run.ts)')
      const child = spawn(process.execPath, [script, ...ctx.args], { stdio: 'inherit' })
      const [code] = (await once(child, 'exit')) as [number | null]
      return code ?? 1
    },
  },
}

/** `tickflow replay FILE --format daily-bars`: daily OHLCV rows straight into bars (1d). */
async function runDailyImport(ctx: CommandContext): Promise<number> {
  const file = ctx.args[0] ?? ctx.flags.file
  if (!file) throw new UsageError('replay needs a file: tickflow replay FILE --format daily-bars')
  const log = createLogger(ctx.config, 'tickflow-replay')
  const db = await openMigratedDb(ctx.config, 'tickflow-replay', log)
  try {
    const columns = Object.fromEntries(
      (ctx.flags.columns ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('=') as [string, string]),
    )
    const started = Date.now()
    const r = await importDailyBars(db, file, columns)
    process.stderr.write(
      `tickflow: ${r.bars} daily bars imported, ${r.deadLetters} rows dead-lettered (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
    )
    return 0
  } finally {
    await db.close()
  }
}

async function runIngest(ctx: CommandContext, sourceName: string): Promise<number> {
  const { config } = ctx
  const log = createLogger(config, 'tickflow-ingest')
  const metrics = createMetrics()
  const { signal } = stopSignal()
  const source = sourceFor(ctx, sourceName, log, metrics, signal)
  const bus = createBus(config, log, 'tickflow-ingest')
  try {
    await bus.ensureTopic({
      name: config.kafkaTopic,
      partitions: config.kafkaPartitions,
      replicas: config.kafkaReplication,
    })
    const app = await listen(config, metrics, log, {
      kafka: async () => void (await bus.endOffsets(config.kafkaTopic)),
    })
    const producer = bus.producer()
    const sent = await pump({ source, producer, topic: config.kafkaTopic, log, metrics })
    await producer.close()
    await app.close()
    process.stderr.write(`tickflow: ${sent} trades produced to ${config.kafkaTopic}\n`)
    return 0
  } finally {
    await bus.close()
  }
}
