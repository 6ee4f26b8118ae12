// tickflow bench: one run, on this machine, with a real Kafka broker and PostgreSQL, measuring
//   1. the limits: Kafka's own ProducerPerformance / ConsumerPerformance on the pipeline's messages,
//      and PostgreSQL COPY of the same rows from a file;
//   2. tickflow: ingest → Kafka → processor (a separate `tickflow process`) → PostgreSQL (ticks and
//      bars) for N trades: sustained throughput and the processor's peak memory (VmHWM);
//      then the same trades produced first and drained, by one processor and by two in the group;
//   3. latency: event time → committed batch at a fixed offered rate (a `tickflow ingest` child
//      emitting in real time; the processor runs in this process so each commit is timed exactly);
//   4. a naive baseline: one INSERT per message in autocommit, as typical demos do;
//   5. the wire formats: stage 2 again with Avro through the schema registry, bytes per message of
//      both formats;
//   6. the peer (bench/peer.ts): Kafka Connect + the Debezium JDBC sink draining the same trades,
//      insert mode with batched rewrites and upsert on the trade id, and a SIGKILL run of each next
//      to a SIGKILL run of tickflow's processor (duplicates and losses counted in the tables);
//   7. embedded, run first (before the broker starts): `tickflow replay` of a generated CSV into
//      PGlite against PGlite's own COPY of the same rows, with the replay's peak RSS; the same
//      replay with PGlite not optimised by V8 (TICKFLOW_EMBEDDED_OPTIMIZE=off), and the peak RSS
//      of `tickflow up` for --up-seconds without and with that optimisation;
//   8. the API under ingest: GET /api/v1/bars latency while `tickflow up` offers --rate trades/s
//      (bench/api-load.ts).
// Prints a table and writes bench/results/latest.json with every figure, the ratios and a verdict
// for each target of docs/benchmarks.md.
// Usage: node bench/run.ts [--trades 1000000] [--rate 10000] [--latency-seconds 30] [--quick]
//        [--naive-seconds 20] [--embedded-trades 654140] [--up-seconds 20] [--peer-trades N] [--kafka-port 29092]
//        [--peer | --embedded] [--out bench/results/latest.json]
//   --peer runs the pipeline and the peer only, --embedded the embedded stage only.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createReadStream } from 'node:fs'
import { cpus, totalmem, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { pino } from 'pino'
import { Consumer, MessagesStreamModes } from '@platformatic/kafka'
import { startKafka, root, type KafkaCluster } from '../test/support/kafka.ts'
import { findPostgres, createTestDatabase, type PostgresServer } from '../test/support/postgres.ts'
import { startCli } from '../test/support/cli.ts'
import { CpuTimeline, cpuSnapshot, cpuUse, type CpuUse } from './cpu.ts'
import { startRegistry } from '../test/support/registry.ts'
import { freePort } from '../test/support/topics.ts'
import { SchemaRegistry } from '../src/bus/registry.ts'
import { tradeEncoder, type WireFormat } from '../src/bus/wire.ts'
import { createKafkaBus } from '../src/bus/kafka.ts'
import { DEFAULT_PRODUCER_LINGER_MS } from '../src/config/schema.ts'
import { connectPostgres } from '../src/store/db.ts'
import { migrate } from '../src/store/migrate.ts'
import { COPY_TICKS, TickStore, ticksToCopy } from '../src/store/ticks.ts'
import { waitCaughtUp } from '../src/cli/caught-up.ts'
import { createMetrics } from '../src/metrics/registry.ts'
import { simulate, simulator } from '../src/sources/simulator.ts'
import { pump } from '../src/sources/pump.ts'
import { encodeTrade } from '../src/domain/trade.ts'
import { classify } from '../src/processor/validate.ts'
import type { Tick } from '../src/domain/types.ts'
import { startProcessor } from '../src/processor/processor.ts'
import { createRule } from '../src/store/alerts.ts'
import type { AlertRule } from '../src/domain/alerts.ts'
import { openPgliteHere } from '../src/store/db.ts'
import { nodeFlagsFor } from '../src/cli/node-flags.ts'
import { DEFAULT_BATCH_LINGER_MS } from '../src/config/schema.ts'
import { seedPglite } from '../src/store/pglite-seed.ts'
import type { Trade } from '../src/domain/trade.ts'
import { runPeer, liveWorkers, type PeerRun } from './peer.ts'

const benchOptions = {
  options: {
    trades: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '10000' },
    'latency-seconds': { type: 'string', default: '30' },
    'naive-seconds': { type: 'string', default: '20' },
    'embedded-trades': { type: 'string', default: '654140' },
    'up-seconds': { type: 'string', default: '20' },
    'peer-trades': { type: 'string' },
    'kafka-port': { type: 'string', default: '29092' },
    peer: { type: 'boolean', default: false },
    embedded: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    // N > 0: the pipeline is also measured with N alert rules over its symbols, in the same run
    'alert-rules': { type: 'string', default: '0' },
    out: { type: 'string', default: 'bench/results/latest.json' },
  },
} as const

function parseFlags(): ReturnType<typeof parseArgs<typeof benchOptions>>['values'] {
  try {
    return parseArgs({ ...benchOptions }).values
  } catch (err) {
    // A bad flag is one line and exit code 2, like the rest of tickflow.
    process.stderr.write(`tickflow bench: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  }
}
const args = parseFlags()
for (const k of [
  'trades',
  'rate',
  'latency-seconds',
  'naive-seconds',
  'embedded-trades',
  'up-seconds',
  'peer-trades',
  'kafka-port',
] as const) {
  const v = args[k]
  if (v !== undefined && !/^[1-9]\d*$/.test(v)) {
    process.stderr.write(`tickflow bench: --${k} must be a positive integer, got ${JSON.stringify(v)}\n`)
    process.exit(2)
  }
}
if (!/^\d+$/.test(args['alert-rules']) || Number(args['alert-rules']) > 1000) {
  process.stderr.write(
    `tickflow bench: --alert-rules must be a whole number from 0 to 1000, got ${JSON.stringify(args['alert-rules'])}\n`,
  )
  process.exit(2)
}
const ALERT_RULES = Number(args['alert-rules'])
const N = args.quick ? 100_000 : Number(args.trades)
const RATE = Number(args.rate)
const LATENCY_S = args.quick ? 10 : Number(args['latency-seconds'])
/** The batch linger the latency stage measures next to the default's (the default until it was 0). */
const COMPARED_BATCH_LINGER_MS = 25
const NAIVE_S = args.quick ? 5 : Number(args['naive-seconds'])
const EMBEDDED_N = args.quick ? 50_000 : Number(args['embedded-trades'])
const UP_SECONDS = args.quick ? 5 : Number(args['up-seconds'])
const PEER_N = args['peer-trades'] ? Number(args['peer-trades']) : N
const KAFKA_PORT = Number(args['kafka-port'])
if (args.peer && args.embedded) {
  process.stderr.write('tickflow bench: --peer and --embedded each run one part; give at most one\n')
  process.exit(2)
}
const STAGES = args.peer ? 'peer' : args.embedded ? 'embedded' : 'all'
const BENCH_START = Date.parse('2026-11-24T14:30:00Z')
const SYMBOLS = Array.from({ length: 50 }, (_, i) => `B${String(i).padStart(2, '0')}`)
const log = (m: string): void => void process.stderr.write(`bench: ${m}\n`)
const javaCp = join(root, '.cache/kafka/libs/*')
const silent = pino({ level: 'silent' })

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

function java(cls: string, a: string[]): string {
  return execFileSync('java', ['-Xmx512m', '-cp', javaCp, cls, ...a], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  })
}

/** Messages exactly as the pipeline sends them (same JSON, same size). */
function sampleMessages(n: number, seed: number): string[] {
  const out: string[] = []
  const recvTs = new Date().toISOString()
  for (const t of simulate({
    symbols: SYMBOLS,
    rate: 0,
    realtime: false,
    count: n,
    seed,
    start: Date.parse('2026-11-24T14:30:00Z'),
  }))
    out.push(encodeTrade({ ...t, recvTs }))
  return out
}

async function kafkaLimits(brokers: string, dir: string, messages: string[]) {
  const bus = createKafkaBus({ brokers: brokers.split(',') })
  const topic = `bench-limit-${Date.now()}`
  await bus.ensureTopic({ name: topic, partitions: 6 })
  await bus.close()
  const payload = join(dir, 'payload.txt')
  writeFileSync(payload, messages.slice(0, 10_000).join('\n'))
  log(`Kafka ProducerPerformance: ${N} records`)
  const prod = java('org.apache.kafka.tools.ProducerPerformance', [
    '--bootstrap-server',
    brokers,
    '--topic',
    topic,
    '--num-records',
    String(N),
    '--throughput',
    '-1',
    '--payload-file',
    payload,
    '--producer-props',
    'acks=all',
    'enable.idempotence=true',
    'compression.type=lz4',
    'linger.ms=5',
    'batch.size=262144',
  ])
  const p = /(\d+) records sent, ([\d.]+) records\/sec/.exec(prod)
  log(`Kafka ConsumerPerformance: ${N} records`)
  const cons = java('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    brokers,
    '--topic',
    topic,
    '--num-records',
    String(N),
    '--timeout',
    '60000',
  ])
  const lines = cons.trim().split('\n')
  const header = lines
    .find((l) => l.includes('nMsg.sec'))!
    .split(',')
    .map((h) => h.trim())
  const row = lines
    .at(-1)!
    .split(',')
    .map((c) => c.trim())
  return {
    produceMsgsPerSec: Number(p?.[2]),
    consumeMsgsPerSec: Number(row[header.indexOf('fetch.nMsg.sec')]),
    messageBytes: Math.round(messages.reduce((a, m) => a + Buffer.byteLength(m), 0) / messages.length),
  }
}

async function copyLimit(adminUrl: string, dir: string, messages: string[]) {
  const database = await createTestDatabase(adminUrl)
  try {
    const db = connectPostgres(database.url)
    await migrate(db)
    const ticks: Tick[] = messages.map((m, i) => {
      const c = classify({
        topic: 't',
        partition: i % 6,
        offset: BigInt(i),
        key: (JSON.parse(m) as { symbol: string }).symbol,
        value: Buffer.from(m),
        timestamp: 0,
        headers: {},
      })
      if (!c.ok) throw new Error('bench message invalid')
      return c.tick
    })
    const store = new TickStore(db)
    await store.ensurePartitions(ticks.slice(0, 1))
    await store.ensurePartitions(ticks.slice(-1))
    const file = join(dir, 'ticks.tsv')
    writeFileSync(file, ticksToCopy(ticks))
    await db.close()
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    log(`PostgreSQL COPY of ${ticks.length} rows from a file`)
    const t0 = performance.now()
    await client.query('begin')
    await pipeline(createReadStream(file), client.query(copyFrom(COPY_TICKS)))
    await client.query('commit')
    const secs = (performance.now() - t0) / 1000
    await client.end()
    return { rowsPerSec: ticks.length / secs }
  } finally {
    await database.drop()
  }
}

// The simulated stream carries about 1,000 trades per second of event time over 50 symbols, so the
// rules watch seconds, not minutes: they fire at the bench's sizes, and their firings are stored.
/** The i-th of the benchmark's alert rules: the four kinds in turn, each over ten symbols. */
function benchRule(i: number): Omit<AlertRule, 'id'> {
  const symbols = SYMBOLS.slice((i * 10) % SYMBOLS.length, ((i * 10) % SYMBOLS.length) + 10)
  const common = { symbols, name: `bench ${i}`, webhookUrl: null }
  const direction = i % 2 === 0 ? 'up' : 'down'
  switch (i % 4) {
    case 0:
      return { ...common, direction, kind: 'price_cross', params: { level: '100' } }
    case 1:
      return { ...common, direction, kind: 'percent_move', params: { percent: '0.05', windowSeconds: 5 } }
    case 2:
      return {
        ...common,
        direction: 'up',
        kind: 'volume_spike',
        params: { multiple: '2', period: 5, interval: '1s' },
      }
    default:
      return {
        ...common,
        direction,
        kind: 'indicator_cross',
        params: { indicator: 'rsi', period: 5, interval: '1s', threshold: '60' },
      }
  }
}

interface PipelineRun {
  format?: WireFormat
  registryUrl?: string
  /** SIGKILL the processor at 40 % stored and start another. */
  kill?: boolean
  alertRules?: number
  /**
   * The topic is filled first and the processor started after, timed from its first stored row to
   * caught up, as the peer and the naive consumer are; otherwise end to end, the bench's own
   * producer running alongside on the same cores.
   */
  drain?: boolean
  /**
   * With drain: this many `tickflow process` in the consumer group, started together (as Connect
   * runs two tasks); their peak RSS is reported as the sum of each one's peak.
   */
  processors?: number
  /** With drain: one `tickflow process --threads N` instead (N consumers in one process). */
  threads?: number
}

async function pipelineThroughput(brokers: string, adminUrl: string, run: PipelineRun = {}) {
  const {
    format = 'json',
    registryUrl,
    kill = false,
    alertRules = 0,
    drain = false,
    processors = 1,
    threads = 1,
  } = run
  const database = await createTestDatabase(adminUrl)
  const topic = `bench-pipeline-${format}-${Date.now()}`
  const group = `bench-${topic}`
  try {
    // The producer lingers as `tickflow ingest` does by default (its sends of 5,000 end each linger).
    const bus = createKafkaBus({ brokers: brokers.split(','), producerLingerMs: DEFAULT_PRODUCER_LINGER_MS })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const db = connectPostgres(database.url)
    await migrate(db)
    for (let r = 0; r < alertRules; r++) await createRule(db, benchRule(r))
    const env = {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      DATABASE_URL: database.url,
      ...(registryUrl ? { SCHEMA_REGISTRY_URL: registryUrl } : {}),
    }
    let proc = drain ? undefined : startCli(['process'], env)
    if (proc) await sleep(3000) // joined the group, waiting for data
    log(
      drain
        ? `pipeline (${format}, drain): ${N} trades produced first, then ${threads > 1 ? `one processor with ${threads} threads drains` : processors === 1 ? 'the processor drains' : `${processors} processors drain`} them`
        : `pipeline (${format}${alertRules ? `, ${alertRules} alert rules` : ''}): ${N} trades through ingest → Kafka → processor → PostgreSQL${kill ? ', SIGKILL at 40 %' : ''}`,
    )
    const stored = async (): Promise<number> =>
      Number((await db.query<{ n: string }>('select count(*)::text as n from ticks'))[0]!.n)
    const registry = registryUrl ? new SchemaRegistry({ url: registryUrl }) : undefined
    const encodeAs = await tradeEncoder({ format, registry, topic })
    let wireBytes = 0
    const encode: typeof encodeAs = (t) => {
      const v = encodeAs(t)
      wireBytes += Buffer.byteLength(v)
      return v
    }
    const metrics = createMetrics({ defaultMetrics: false })
    const source = simulator.create(
      simulator.options.parse({
        symbols: SYMBOLS,
        rate: 0,
        realtime: false,
        count: N,
        seed: 5,
        start: BENCH_START,
        batchSize: 2000,
      }),
      {
        log: silent,
        metrics,
        signal: new AbortController().signal,
      },
    )
    const t0 = performance.now()
    let rowsAtKill: number | undefined
    // The kill run: SIGKILL the processor once 40 % of the trades are stored, start another.
    const killer = kill
      ? (async () => {
          while ((await stored()) < 0.4 * N) await sleep(200)
          proc!.child.kill('SIGKILL')
          await proc!.exited
          rowsAtKill = await stored()
          log(`pipeline: processor killed with ${rowsAtKill} ticks stored; starting another`)
          proc = startCli(['process'], env)
        })()
      : Promise.resolve()
    const producer = bus.producer()
    await pump({ source, producer, topic, log: silent, metrics, maxSend: 5000, encode })
    const produceSecs = (performance.now() - t0) / 1000
    await killer
    proc ??= startCli(threads > 1 ? ['process', '--threads', String(threads)] : ['process'], env)
    const running = [proc, ...Array.from({ length: processors - 1 }, () => startCli(['process'], env))]
    // The CPU over a drain, cut afterwards from its first to its last stored row (bench/cpu.ts).
    const cpu = drain
      ? new CpuTimeline(() => running.flatMap((r) => (r.child.pid === undefined ? [] : [r.child.pid])))
      : undefined
    const peaks = running.map(() => 0)
    const sampleRss = (): void =>
      running.forEach((r, i) => {
        const status = readFileSync(`/proc/${r.child.pid}/status`, 'utf8')
        peaks[i] = Math.max(peaks[i]!, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024)
      })
    if (!(await waitCaughtUp(bus, db, group, topic, { timeoutMs: 3_600_000, onPoll: sampleRss })))
      throw new Error('the pipeline did not catch up within an hour')
    const caughtUpAt = Date.now()
    let secs = (performance.now() - t0) / 1000
    let cpuUsed: CpuUse | undefined
    if (drain) {
      const [first] = await db.query<{ ms: string; last: string }>(
        `select (extract(epoch from min(stored_at)) * 1000)::text as ms,
           (extract(epoch from max(stored_at)) * 1000)::text as last from ticks`,
      )
      secs = (caughtUpAt - Number(first!.ms)) / 1000
      cpuUsed = cpu?.window(Number(first!.ms), Number(first!.last), N)
      cpu?.stop()
    }
    for (const r of running) r.child.kill('SIGTERM')
    await Promise.all(running.map((r) => r.exited))
    const [rows] = await db.query<{ n: string; ids: string; bars: string; firings: string }>(
      `select (select count(*) from ticks)::text as n, (select count(distinct trade_id) from ticks)::text as ids,
         (select count(*) from bars)::text as bars, (select count(*) from alert_firings)::text as firings`,
    )
    if (!kill && Number(rows!.n) !== N) throw new Error(`pipeline stored ${rows!.n} of ${N}`)
    await producer.close()
    await bus.close()
    await db.close()
    return {
      format,
      measured: drain ? 'drain' : 'end-to-end',
      trades: N,
      seconds: secs,
      tradesPerSec: N / secs,
      bytesPerMessage: wireBytes / N,
      produceSeconds: produceSecs,
      bars: Number(rows!.bars),
      processorPeakRssBytes: peaks.reduce((a, b) => a + b, 0),
      ...(processors > 1 ? { processors, eachProcessorPeakRssBytes: peaks } : {}),
      ...(threads > 1 ? { threads } : {}),
      ...(cpuUsed ? { cpu: cpuUsed } : {}),
      ...(alertRules ? { alertFirings: Number(rows!.firings) } : {}),
      ...(kill
        ? {
            killed: true,
            rows: Number(rows!.n),
            distinctIds: Number(rows!.ids),
            duplicates: Number(rows!.n) - Number(rows!.ids),
            losses: N - Number(rows!.ids),
            rowsAtKill,
          }
        : {}),
    }
  } finally {
    await database.drop()
  }
}

/** Pages written but not yet on disk (/proc/meminfo Dirty + Writeback), MiB. */
function unwrittenMiB(): number {
  const info = readFileSync('/proc/meminfo', 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(info)?.[1] ?? 0)
  return Math.round((kb('Dirty') + kb('Writeback')) / 1024)
}

/**
 * The stages before a latency measurement can leave a gigabyte or more of written pages (the
 * broker's log segments, PostgreSQL's tables) that the kernel writes back about 30 s later, in the
 * middle of the measurement, where each commit's fsync waits behind it; a steady 10,000 trades/s
 * writes a few megabytes a second and builds no such backlog. So the backlog goes to disk first:
 * PostgreSQL's dirty buffers by a CHECKPOINT (skipped, and said, when the role may not), then
 * every file by sync(1).
 */
async function settleDisk(adminUrl: string) {
  const unwrittenMiBBefore = unwrittenMiB()
  const started = performance.now()
  let checkpoint = true
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query('checkpoint')
  } catch (err) {
    checkpoint = false
    log(`latency: no CHECKPOINT before it (${err instanceof Error ? err.message : String(err)})`)
  } finally {
    await client.end()
  }
  execFileSync('sync')
  const ms = Math.round(performance.now() - started)
  return { unwrittenMiBBefore, unwrittenMiBAfter: unwrittenMiB(), checkpoint, ms }
}

/**
 * Event time → commit at RATE trades/s offered, with the processor's batch linger (`lingerMs`, the
 * product's default in the reported run; 25 ms for the comparison with one), and the CPU each side
 * spent per stored trade meanwhile.
 */
async function latency(brokers: string, adminUrl: string, lingerMs: number) {
  const settled = await settleDisk(adminUrl)
  log(
    `latency: ${settled.unwrittenMiBBefore} MiB of written pages flushed first (${settled.ms} ms${settled.checkpoint ? ', with a checkpoint' : ''})`,
  )
  const database = await createTestDatabase(adminUrl)
  const topic = `bench-latency-${Date.now()}`
  try {
    const bus = createKafkaBus({ brokers: brokers.split(',') })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const db = connectPostgres(database.url)
    await migrate(db)
    const store = new TickStore(db)
    await store.createAhead()
    // Event time → the batch's commit, and → the live tail's call (what a dashboard can show).
    const samples: number[] = []
    const tail: number[] = []
    let firstCommit: number | undefined
    let stored = 0
    const processor = startProcessor({
      bus,
      store,
      topic,
      groupId: `bench-${topic}`,
      log: silent,
      metrics: createMetrics({ defaultMetrics: false }),
      lingerMs,
      onCommitted: (r, _bars, committedAt) => {
        const now = Date.now()
        stored += r.stored.length
        if (r.stored.length === 0) return
        firstCommit ??= committedAt
        // The first two seconds of trades are start-up (the ingest's and the processor's JIT, the
        // first connections, a backlog built meanwhile), not steady state.
        if (committedAt - firstCommit < 2000) return
        for (const t of r.stored) {
          samples.push(committedAt - t.tsMs)
          tail.push(now - t.tsMs)
        }
      },
    })
    await sleep(3000)
    log(`latency: ${RATE} trades/s offered for ${LATENCY_S} s, batch linger ${lingerMs} ms`)
    // The processor runs in this process (no child of it runs meanwhile but the ingest, counted
    // apart): its CPU is this process's.
    const cpuFrom = cpuSnapshot([])
    const processorFrom = process.cpuUsage()
    const storedFrom = stored
    const ingest = startCli(
      ['ingest', '--rate', String(RATE), '--duration', `${LATENCY_S + 2}s`, '--symbols', SYMBOLS.join(',')],
      { KAFKA_BROKERS: brokers, KAFKA_TOPIC: topic },
    )
    const exit = await ingest.exited
    if (exit.code !== 0) throw new Error(`ingest failed: ${ingest.output()}`)
    await sleep(1000)
    const processorUsed = process.cpuUsage(processorFrom)
    const trades = stored - storedFrom
    const used = cpuUse(cpuFrom, cpuSnapshot([]), trades)
    await processor.close()
    await bus.close()
    await db.close()
    samples.sort((a, b) => a - b)
    tail.sort((a, b) => a - b)
    return {
      offeredPerSec: RATE,
      seconds: LATENCY_S,
      lingerMs,
      measured: 'event time to commit, from 2 s after the first commit',
      settled,
      samples: samples.length,
      p50Ms: percentile(samples, 0.5),
      p99Ms: percentile(samples, 0.99),
      p999Ms: percentile(samples, 0.999),
      maxMs: samples.at(-1) ?? NaN,
      liveTail: {
        measured: 'event time to the live tail (onCommitted), same trades',
        p50Ms: percentile(tail, 0.5),
        p99Ms: percentile(tail, 0.99),
        p999Ms: percentile(tail, 0.999),
      },
      cpu: {
        measured: 'from the ingest start to 1 s after it ended, per trade stored meanwhile',
        trades,
        processorMicrosPerTrade: (processorUsed.user + processorUsed.system) / trades,
        postgresMicrosPerTrade: used.postgresMicrosPerTrade,
        brokerMicrosPerTrade: used.brokerMicrosPerTrade,
        machineMicrosPerTrade: used.machineMicrosPerTrade,
        machineBusyShare: used.machineBusyShare,
        machineIowaitShare: used.machineIowaitShare,
      },
    }
  } finally {
    await database.drop()
  }
}

/** A latency stage's CPU per trade: processor / PostgreSQL / broker / machine. */
function latencyCpu(l: Awaited<ReturnType<typeof latency>>): string {
  const c = l.cpu
  return [
    c.processorMicrosPerTrade,
    c.postgresMicrosPerTrade,
    c.brokerMicrosPerTrade,
    c.machineMicrosPerTrade,
  ]
    .map((us) => us.toFixed(1))
    .join(' / ')
    .concat(
      ` (${(c.machineBusyShare * 100).toFixed(0)} % busy, ${(c.machineIowaitShare * 100).toFixed(0)} % iowait)`,
    )
}

/** What typical Kafka-to-Postgres demos do: one INSERT per message, autocommit, no batching. */
async function naive(brokers: string, adminUrl: string, messages: string[]) {
  const database = await createTestDatabase(adminUrl)
  const topic = `bench-naive-${Date.now()}`
  try {
    const bus = createKafkaBus({ brokers: brokers.split(',') })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const producer = bus.producer()
    for (let i = 0; i < messages.length; i += 5000)
      await producer.send(
        topic,
        messages
          .slice(i, i + 5000)
          .map((m) => ({ key: (JSON.parse(m) as { symbol: string }).symbol, value: m })),
      )
    await bus.close()
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query(
      'create table naive_ticks (symbol text, ts timestamptz, price numeric, size numeric, source text, trade_id text)',
    )
    const consumer = new Consumer({
      clientId: 'naive',
      groupId: `naive-${topic}`,
      bootstrapBrokers: brokers.split(','),
    })
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: true,
    })
    log(`naive baseline: one INSERT per message for ${NAIVE_S} s`)
    let n = 0
    const t0 = performance.now()
    for await (const m of stream) {
      const t = JSON.parse(m.value.toString()) as {
        symbol: string
        ts: string
        price: string
        size: string
        source: string
        id: string
      }
      await client.query('insert into naive_ticks values ($1, $2, $3, $4, $5, $6)', [
        t.symbol,
        t.ts,
        t.price,
        t.size,
        t.source,
        t.id,
      ])
      n++
      if (performance.now() - t0 > NAIVE_S * 1000) break
    }
    const secs = (performance.now() - t0) / 1000
    await stream.close()
    await consumer.close(true)
    await client.end()
    return { messages: n, seconds: secs, msgsPerSec: n / secs }
  } finally {
    await database.drop()
  }
}

interface ApiLoad {
  ingestingTradesPerSec: number
  seconds: number
  requests: number
  requestsPerSec: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
  non2xx: number
  errors: number
}

/**
 * The API under ingest load: bench/api-load.ts (`tickflow up` offering --rate trades/s into
 * PostgreSQL, autocannon on GET /api/v1/bars); a query that failed or answered non-2xx fails the run.
 */
async function apiLoad(adminUrl: string, dir: string): Promise<ApiLoad> {
  const file = join(dir, 'api-load.json')
  const secs = args.quick ? 5 : Math.min(15, LATENCY_S)
  log(`api: GET /api/v1/bars for ${secs} s while ingesting ${RATE} trades/s`)
  const child = spawn(
    process.execPath,
    [
      join(root, 'bench/api-load.ts'),
      '--rate',
      String(RATE),
      '--seconds',
      String(secs),
      '--warmup',
      '5',
      '--out',
      file,
    ],
    { env: { ...process.env, DATABASE_URL: adminUrl }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
  if (code !== 0) throw new Error(`bench/api-load.ts failed (${code}): ${out}`)
  const r = JSON.parse(readFileSync(file, 'utf8')) as ApiLoad
  if (r.errors !== 0 || r.non2xx !== 0) throw new Error(`api load: ${r.errors} errors, ${r.non2xx} non-2xx`)
  return r
}

/** The simulator's trades for a stage (the pipeline's and the peer's are the same: seed 5). */
function trades(n: number, seed: number): Trade[] {
  return [...simulate({ symbols: SYMBOLS, rate: 0, realtime: false, count: n, seed, start: BENCH_START })]
}

/** One embedded command as a user runs it, in a child process: its output, wall time and peak RSS. */
async function embeddedCommand(args: string[], dataDir: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'info',
    HTTP_PORT: '0',
    TICKFLOW_DATA_DIR: dataDir,
    ...extraEnv,
  }
  delete env.KAFKA_BROKERS
  delete env.DATABASE_URL
  // The runs choose the optimisation themselves, whatever the caller's shell says.
  if (!('TICKFLOW_EMBEDDED_OPTIMIZE' in extraEnv)) delete env.TICKFLOW_EMBEDDED_OPTIMIZE
  const t0 = performance.now()
  // With the Node flags ./tickflow starts the command with.
  const child = spawn(process.execPath, [...nodeFlagsFor(args[0]), join(root, 'bin/tickflow.js'), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  let peakRss = 0
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      peakRss = Math.max(peakRss, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024)
    } catch {
      // exited between two samples
    }
  }, 100)
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1000
  const held = /the store holds (\d+) ticks and (\d+) dead letters/.exec(out)
  if (code !== 0 || !held) throw new Error(`tickflow ${args[0]} failed (${code}): ${out}`)
  if (held[2] !== '0') throw new Error(`tickflow ${args[0]} stored ${held[2]} dead letters: ${out}`)
  const logged = (msg: string): number => {
    const line = out.split('\n').find((l) => l.includes(`"msg":"${msg}"`))
    if (!line) throw new Error(`tickflow ${args[0]} did not log "${msg}": ${out}`)
    return (JSON.parse(line) as { time: number }).time
  }
  const optimised = /embedded database: WebAssembly optimisation (on|off)/.exec(out)?.[1]
  if (!optimised) throw new Error(`tickflow ${args[0]} did not say whether PGlite is optimised: ${out}`)
  return {
    seconds,
    peakRss,
    storedTicks: Number(held[1]),
    ingestSeconds: (logged('pipeline stopped') - logged('pipeline started')) / 1000,
    optimised: optimised === 'on',
  }
}

/**
 * The embedded default as a new user meets it: `tickflow replay FILE` of a CSV into PGlite (no Kafka,
 * no PostgreSQL server): wall time from the command's start to its exit, the ingest phase alone
 * (from its "pipeline started" log line to "pipeline stopped", so without PGlite's start-up and
 * migrations) and its peak RSS; then PGlite's own COPY of the same rows into the same schema (a
 * fresh PGlite, migrated), in this process. The ratio compares the ingest phase with the COPY.
 * The same replay again with TICKFLOW_EMBEDDED_OPTIMIZE=off, and `tickflow up` (the simulator,
 * its default) for UP_SECONDS with the setting's default (auto: off) and on, show what V8's
 * optimisation of PGlite costs in memory and brings in speed.
 */
async function embedded(dir: string) {
  const rows = trades(EMBEDDED_N, 11)
  const csv = join(dir, 'embedded-trades.csv')
  writeFileSync(
    csv,
    `ts,symbol,price,size,id\n${rows.map((t) => `${t.ts},${t.symbol},${t.price},${t.size},${t.id}`).join('\n')}\n`,
  )
  log(`embedded: tickflow replay of a ${EMBEDDED_N}-trade CSV into PGlite`)
  const replay = await embeddedCommand(['replay', csv], join(dir, 'embedded-data'))
  log(`embedded: the same replay with TICKFLOW_EMBEDDED_OPTIMIZE=off`)
  const lean = await embeddedCommand(['replay', csv], join(dir, 'embedded-lean'), {
    TICKFLOW_EMBEDDED_OPTIMIZE: 'off',
  })
  for (const r of [replay, lean])
    if (r.storedTicks !== EMBEDDED_N)
      throw new Error(`tickflow replay stored ${r.storedTicks} of ${EMBEDDED_N} trades`)
  if (!replay.optimised || lean.optimised) throw new Error('the replays did not run optimised, then not')
  log(`embedded: tickflow up for ${UP_SECONDS} s, PGlite not optimised (default), then optimised`)
  const upArgs = ['up', '--duration', `${UP_SECONDS}s`]
  const up = await embeddedCommand(upArgs, join(dir, 'embedded-up'))
  const upOn = await embeddedCommand(upArgs, join(dir, 'embedded-up-on'), {
    TICKFLOW_EMBEDDED_OPTIMIZE: 'on',
  })
  if (up.optimised || !upOn.optimised)
    throw new Error('tickflow up did not run not optimised, then optimised')
  const upFigures = (r: typeof up) => ({
    seconds: r.seconds,
    storedTicks: r.storedTicks,
    peakRssBytes: r.peakRss,
  })

  log(`embedded: PGlite COPY of the same ${EMBEDDED_N} rows`)
  // PGlite itself, in this thread: the COPY is not charged the hand-over to tickflow's store thread.
  await seedPglite(join(dir, 'pglite-copy'))
  const db = await openPgliteHere(join(dir, 'pglite-copy'))
  try {
    await migrate(db)
    const recvTs = new Date().toISOString()
    const ticks = rows.map((t, i) => {
      const c = classify({
        topic: 't',
        partition: 0,
        offset: BigInt(i),
        key: t.symbol,
        value: Buffer.from(encodeTrade({ ...t, source: 'replay', recvTs })),
        timestamp: 0,
        headers: {},
      })
      if (!c.ok) throw new Error('bench trade invalid')
      return c.tick
    })
    const store = new TickStore(db)
    await store.ensurePartitions(ticks.slice(0, 1))
    await store.ensurePartitions(ticks.slice(-1))
    const text = ticksToCopy(ticks)
    const t1 = performance.now()
    await db.transaction((tx) => tx.copyIn(COPY_TICKS, text))
    const copySecs = (performance.now() - t1) / 1000
    const [n] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
    if (Number(n!.n) !== EMBEDDED_N) throw new Error(`PGlite COPY stored ${n!.n} of ${EMBEDDED_N}`)
    return {
      trades: EMBEDDED_N,
      replaySeconds: replay.seconds,
      replayTradesPerSec: EMBEDDED_N / replay.seconds,
      replayIngestSeconds: replay.ingestSeconds,
      replayIngestTradesPerSec: EMBEDDED_N / replay.ingestSeconds,
      replayPeakRssBytes: replay.peakRss,
      replayStoredTicks: replay.storedTicks,
      replayNotOptimised: {
        seconds: lean.seconds,
        ingestSeconds: lean.ingestSeconds,
        ingestTradesPerSec: EMBEDDED_N / lean.ingestSeconds,
        peakRssBytes: lean.peakRss,
        storedTicks: lean.storedTicks,
      },
      up: upFigures(up),
      upOptimised: upFigures(upOn),
      pgliteCopySeconds: copySecs,
      pgliteCopyRowsPerSec: EMBEDDED_N / copySecs,
    }
  } finally {
    await db.close()
  }
}

/** The peer's four runs: insert and upsert, each plain and with a SIGKILL. */
async function peer(brokers: string, adminUrl: string, dir: string) {
  const same = trades(PEER_N, 5)
  const run = (mode: 'insert' | 'upsert', kill: boolean): Promise<PeerRun> =>
    runPeer({ brokers, adminUrl, dir, trades: same, mode, kill, log })
  const insert = await run('insert', false)
  const upsert = await run('upsert', false)
  const insertKill = await run('insert', true)
  const upsertKill = await run('upsert', true)
  for (const r of [insert, upsert])
    if (!r.exact) throw new Error(`the peer (${r.mode}) stored ${r.rows} rows, ${r.distinctIds} distinct`)
  return {
    system: `Kafka Connect 4.3.1 standalone + Debezium JDBC sink 3.6.0.Final, 2 tasks, batch.size 5000, reWriteBatchedInserts=true`,
    insert,
    upsert,
    insertKill,
    upsertKill,
  }
}

type Verdict = { value: number; target: string; met: boolean }
const atLeast = (value: number, min: number): Verdict => ({ value, target: `>= ${min}`, met: value >= min })
const below = (value: number, max: number, unit = ''): Verdict => ({
  value,
  target: `< ${max}${unit}`,
  met: value < max,
})

const dir = mkdtempSync(join(tmpdir(), 'tickflow-bench-'))
// Ctrl-C or SIGTERM: the broker (a detached process) and any Connect worker are killed, PostgreSQL
// stopped if the harness started it, the temporary directory removed, then the harness exits.
const starting: { kafka?: Promise<KafkaCluster>; postgres?: Promise<PostgresServer> } = {}
const interrupt = (sig: NodeJS.Signals): void => {
  log(`${sig}: stopping the broker and removing ${dir}`)
  void (async () => {
    for (const w of liveWorkers) w.kill('SIGKILL')
    const k = await starting.kafka?.catch(() => undefined)
    await Promise.all((k?.nodes ?? []).map((n) => n.kill().catch(() => {})))
    await (await starting.postgres?.catch(() => undefined))?.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
    process.exit(sig === 'SIGINT' ? 130 : 143)
  })()
}
process.once('SIGINT', interrupt)
process.once('SIGTERM', interrupt)
const needsServers = STAGES !== 'embedded'
let postgres: PostgresServer | undefined
let kafka: KafkaCluster | undefined
try {
  // The embedded stage needs neither server and runs first, on a host not yet busy with them:
  // after the other stages the broker idles on, and PostgreSQL vacuums the rows they wrote.
  const emb = STAGES !== 'peer' ? await embedded(dir) : undefined
  starting.postgres = needsServers ? findPostgres() : undefined
  postgres = await starting.postgres
  starting.kafka =
    process.env.KAFKA_BROKERS || !needsServers
      ? undefined
      : startKafka(join(dir, 'kafka'), [
          { nodeId: 1, port: KAFKA_PORT, controllerPort: KAFKA_PORT + 1, jmxPort: KAFKA_PORT - 2021 },
        ])
  kafka = await starting.kafka
  const brokers = process.env.KAFKA_BROKERS ?? kafka?.brokers ?? ''
  const all = STAGES === 'all'
  const messages = all ? sampleMessages(N, 9) : []
  const kafkaLimit = all ? await kafkaLimits(brokers, dir, messages) : undefined
  const copy = all ? await copyLimit(postgres!.adminUrl, dir, messages) : undefined
  const pipe = needsServers ? await pipelineThroughput(brokers, postgres!.adminUrl) : undefined
  const drain = needsServers
    ? await pipelineThroughput(brokers, postgres!.adminUrl, { drain: true })
    : undefined
  const drainTwo = needsServers
    ? await pipelineThroughput(brokers, postgres!.adminUrl, { drain: true, processors: 2 })
    : undefined
  const drainThreads = needsServers
    ? await pipelineThroughput(brokers, postgres!.adminUrl, { drain: true, threads: 2 })
    : undefined
  const alerts =
    needsServers && ALERT_RULES
      ? await pipelineThroughput(brokers, postgres!.adminUrl, { alertRules: ALERT_RULES })
      : undefined
  const lat = all ? await latency(brokers, postgres!.adminUrl, DEFAULT_BATCH_LINGER_MS) : undefined
  const latLinger = all ? await latency(brokers, postgres!.adminUrl, COMPARED_BATCH_LINGER_MS) : undefined
  const api = all ? await apiLoad(postgres!.adminUrl, dir) : undefined
  const base = all ? await naive(brokers, postgres!.adminUrl, messages.slice(0, 200_000)) : undefined
  let avro: Awaited<ReturnType<typeof pipelineThroughput>> | undefined
  let avroError: string | undefined
  if (all) {
    const registryDb = await createTestDatabase(postgres!.adminUrl)
    const registry = await startRegistry(await freePort(), registryDb.url, join(dir, 'registry.log'))
    // A registry failure ends this stage only: it is recorded, and the other stages still run.
    avro = await pipelineThroughput(brokers, postgres!.adminUrl, {
      format: 'avro',
      registryUrl: registry.url,
    })
      .catch((err: unknown) => {
        avroError = err instanceof Error ? err.message : String(err)
        log(`pipeline (avro) failed: ${avroError}`)
        return undefined
      })
      .finally(async () => {
        await registry.stop()
        await registryDb.drop()
      })
  }
  const pipeKill = needsServers
    ? await pipelineThroughput(brokers, postgres!.adminUrl, { kill: true })
    : undefined
  const peers = needsServers ? await peer(brokers, postgres!.adminUrl, dir) : undefined

  const wall = kafkaLimit && copy ? Math.min(kafkaLimit.consumeMsgsPerSec, copy.rowsPerSec) : NaN
  const ratios: Record<string, number> = {}
  const targets: Record<string, Verdict> = {}
  // The peers, the naive consumer and the limits each drain a topic filled before: they are set
  // against the processor draining one too (the end-to-end figure shares the cores with the
  // bench's own producer, and is reported next to it).
  if (pipe && drain) ratios.endToEndVsDrain = pipe.tradesPerSec / drain.tradesPerSec
  if (drain && peers) {
    ratios.pipelineVsConnectInsert = drain.tradesPerSec / peers.insert.rowsPerSec
    ratios.pipelineVsConnectUpsert = drain.tradesPerSec / peers.upsert.rowsPerSec
    targets.pipelineVsConnectInsert = atLeast(ratios.pipelineVsConnectInsert, 1)
    targets.pipelineVsConnectUpsert = atLeast(ratios.pipelineVsConnectUpsert, 1.5)
  }
  // Two processors in the group against the peer's two tasks: reported, not a target (the targets
  // are one processor's).
  if (drain && drainTwo) ratios.twoProcessorsVsOne = drainTwo.tradesPerSec / drain.tradesPerSec
  if (drainTwo && peers) {
    ratios.twoProcessorsVsConnectInsert = drainTwo.tradesPerSec / peers.insert.rowsPerSec
    ratios.twoProcessorsVsConnectUpsert = drainTwo.tradesPerSec / peers.upsert.rowsPerSec
  }
  // One processor with two threads: Connect's two tasks also share one process.
  if (drain && drainThreads) ratios.twoThreadsVsOne = drainThreads.tradesPerSec / drain.tradesPerSec
  if (drainTwo && drainThreads) {
    ratios.twoThreadsVsTwoProcessors = drainThreads.tradesPerSec / drainTwo.tradesPerSec
    ratios.twoThreadsVsTwoProcessorsPeakRss =
      drainThreads.processorPeakRssBytes / drainTwo.processorPeakRssBytes
  }
  if (drainThreads && peers) {
    ratios.twoThreadsVsConnectInsert = drainThreads.tradesPerSec / peers.insert.rowsPerSec
    ratios.twoThreadsVsConnectUpsert = drainThreads.tradesPerSec / peers.upsert.rowsPerSec
  }
  if (pipe && alerts) ratios.alertsOnVsOff = alerts.tradesPerSec / pipe.tradesPerSec
  if (pipe && avro)
    Object.assign(ratios, {
      avroVsJsonThroughput: avro.tradesPerSec / pipe.tradesPerSec,
      avroVsJsonBytes: avro.bytesPerMessage / pipe.bytesPerMessage,
    })
  if (drain && kafkaLimit && copy && base && lat) {
    Object.assign(ratios, {
      pipelineVsKafkaConsume: drain.tradesPerSec / kafkaLimit.consumeMsgsPerSec,
      pipelineVsCopy: drain.tradesPerSec / copy.rowsPerSec,
      pipelineVsMinLimit: drain.tradesPerSec / wall,
      pipelineVsNaive: drain.tradesPerSec / base.msgsPerSec,
    })
    targets.pipelineVsMinLimit = atLeast(ratios.pipelineVsMinLimit!, 0.5)
    targets.pipelineVsNaive = atLeast(ratios.pipelineVsNaive!, 30)
    targets.latencyP99Ms = below(lat.p99Ms, 100, ' ms')
    targets.latencyP999Ms = below(lat.p999Ms, 200, ' ms')
  }
  if (api) targets.apiBarsP99Ms = below(api.latencyMs.p99, 50, ' ms')
  if (pipe) targets.processorPeakRssMiB = below(pipe.processorPeakRssBytes / 2 ** 20, 250, ' MiB')
  if (emb) {
    ratios.embeddedVsPgliteCopy = emb.replayIngestTradesPerSec / emb.pgliteCopyRowsPerSec
    ratios.embeddedWallVsPgliteCopy = emb.replayTradesPerSec / emb.pgliteCopyRowsPerSec
    targets.embeddedVsPgliteCopy = atLeast(ratios.embeddedVsPgliteCopy, 0.5)
    targets.embeddedPeakRssMiB = below(emb.replayPeakRssBytes / 2 ** 20, 500, ' MiB')
    ratios.embeddedNotOptimisedVsPgliteCopy =
      emb.replayNotOptimised.ingestTradesPerSec / emb.pgliteCopyRowsPerSec
    ratios.embeddedNotOptimisedVsOptimisedRss = emb.replayNotOptimised.peakRssBytes / emb.replayPeakRssBytes
    ratios.upNotOptimisedVsOptimisedRss = emb.up.peakRssBytes / emb.upOptimised.peakRssBytes
  }
  const results = {
    when: new Date().toISOString(),
    stages: STAGES,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: postgres?.origin,
      kafka: '4.3.1 single KRaft node on the same machine',
    },
    ...(kafkaLimit && copy
      ? {
          limits: {
            kafkaProduceMsgsPerSec: kafkaLimit.produceMsgsPerSec,
            kafkaConsumeMsgsPerSec: kafkaLimit.consumeMsgsPerSec,
            postgresCopyRowsPerSec: copy.rowsPerSec,
            messageBytes: kafkaLimit.messageBytes,
          },
        }
      : {}),
    ...(pipe ? { pipeline: pipe } : {}),
    ...(drain ? { pipelineDrain: drain } : {}),
    ...(drainTwo ? { pipelineDrainTwoProcessors: drainTwo } : {}),
    ...(drainThreads ? { pipelineDrainTwoThreads: drainThreads } : {}),
    ...(lat ? { latency: lat } : {}),
    ...(latLinger ? { latencyWithBatchLinger: latLinger } : {}),
    ...(api ? { api } : {}),
    ...(base ? { naive: base } : {}),
    ...(avro ? { pipelineAvro: avro } : avroError ? { pipelineAvro: { error: avroError } } : {}),
    ...(pipeKill ? { pipelineKill: pipeKill } : {}),
    ...(alerts ? { pipelineWithAlerts: { ...alerts, alertRules: ALERT_RULES } } : {}),
    ...(peers ? { peer: peers } : {}),
    ...(emb ? { embedded: emb } : {}),
    ratios,
    targets,
  }
  const out = resolve(root, args.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  const f = (n: number): string => Math.round(n).toLocaleString('en')
  const x = (n: number | undefined): string => `${(n ?? NaN).toFixed(2)} ×`
  const rows: [string, string][] = []
  if (kafkaLimit && copy)
    rows.push(
      ['Kafka ProducerPerformance (msg/s)', f(kafkaLimit.produceMsgsPerSec)],
      ['Kafka ConsumerPerformance (msg/s)', f(kafkaLimit.consumeMsgsPerSec)],
      ['PostgreSQL COPY from file (rows/s)', f(copy.rowsPerSec)],
    )
  if (pipe) rows.push([`tickflow pipeline end to end, ${f(N)} trades (trades/s)`, f(pipe.tradesPerSec)])
  if (drain)
    rows.push([`tickflow processor draining the same, filled first (trades/s)`, f(drain.tradesPerSec)])
  if (drain && drainTwo)
    rows.push(
      ['  two processors in the group (trades/s)', f(drainTwo.tradesPerSec)],
      ['  two vs one processor', x(ratios.twoProcessorsVsOne)],
    )
  if (drain && drainTwo && drainThreads)
    rows.push(
      ['  one processor, two threads (trades/s)', f(drainThreads.tradesPerSec)],
      ['  two threads vs one processor', x(ratios.twoThreadsVsOne)],
      [
        '  peak RSS: two threads / two processors (MiB)',
        `${f(drainThreads.processorPeakRssBytes / 2 ** 20)} / ${f(drainTwo.processorPeakRssBytes / 2 ** 20)}`,
      ],
    )
  if (base && lat && drain && pipe)
    rows.push(
      ['  drain vs min(Kafka consume, COPY)', `${(ratios.pipelineVsMinLimit! * 100).toFixed(1)} %`],
      ['  drain vs naive baseline', `${ratios.pipelineVsNaive!.toFixed(1)} ×`],
      ['naive one-INSERT-per-message (msg/s)', f(base.msgsPerSec)],
      ['pipeline with Avro via the registry (trades/s)', avro ? f(avro.tradesPerSec) : 'failed'],
      [
        'bytes per message: JSON / Avro',
        `${f(pipe.bytesPerMessage)} / ${avro ? f(avro.bytesPerMessage) : '-'}`,
      ],
      [
        `latency at ${f(RATE)}/s, linger ${lat.lingerMs} ms: p50 / p99 / p99.9 (ms)`,
        `${lat.p50Ms} / ${lat.p99Ms} / ${lat.p999Ms}`,
      ],
      ['  CPU µs per trade: processor / PostgreSQL / broker / machine', latencyCpu(lat)],
      ...(latLinger
        ? ([
            [
              `  linger ${latLinger.lingerMs} ms: p50 / p99 / p99.9 (ms)`,
              `${latLinger.p50Ms} / ${latLinger.p99Ms} / ${latLinger.p999Ms}`,
            ],
            [`  linger ${latLinger.lingerMs} ms: CPU µs per trade (same order)`, latencyCpu(latLinger)],
          ] as [string, string][])
        : []),
      [
        '  to the live tail: p50 / p99 / p99.9 (ms)',
        `${lat.liveTail.p50Ms} / ${lat.liveTail.p99Ms} / ${lat.liveTail.p999Ms}`,
      ],
    )
  if (api)
    rows.push([
      `GET /api/v1/bars while ingesting ${f(RATE)}/s: p50 / p99 (ms)`,
      `${api.latencyMs.p50} / ${api.latencyMs.p99}`,
    ])
  if (pipe && alerts)
    rows.push(
      [`pipeline with ${ALERT_RULES} alert rules (trades/s)`, f(alerts.tradesPerSec)],
      ['  vs without alert rules', `${(ratios.alertsOnVsOff! * 100).toFixed(1)} %`],
    )
  if (pipe) rows.push(['processor peak RSS (MiB)', f(pipe.processorPeakRssBytes / 2 ** 20)])
  if (peers && pipeKill)
    rows.push(
      [`peer: Connect insert, ${f(PEER_N)} trades (rows/s)`, f(peers.insert.rowsPerSec)],
      [`peer: Connect upsert on trade id (rows/s)`, f(peers.upsert.rowsPerSec)],
      [
        '  processor drain vs Connect insert / upsert',
        `${x(ratios.pipelineVsConnectInsert)} / ${x(ratios.pipelineVsConnectUpsert)}`,
      ],
      [
        '  two processors vs Connect insert / upsert (two tasks)',
        `${x(ratios.twoProcessorsVsConnectInsert)} / ${x(ratios.twoProcessorsVsConnectUpsert)}`,
      ],
      [
        '  two threads vs Connect insert / upsert',
        `${x(ratios.twoThreadsVsConnectInsert)} / ${x(ratios.twoThreadsVsConnectUpsert)}`,
      ],
      [
        'peer peak memory insert / upsert (MiB)',
        `${f(peers.insert.connectPeakRssBytes / 2 ** 20)} / ${f(peers.upsert.connectPeakRssBytes / 2 ** 20)}`,
      ],
      ['after SIGKILL, duplicates / losses: tickflow', `${pipeKill.duplicates} / ${pipeKill.losses}`],
      ['  Connect insert', `${peers.insertKill.duplicates} / ${peers.insertKill.losses}`],
      ['  Connect upsert', `${peers.upsertKill.duplicates} / ${peers.upsertKill.losses}`],
    )
  // CPU per stored trade over each drain: consumer / PostgreSQL / broker / whole machine.
  const perTrade = (c: CpuUse | undefined): string =>
    c
      ? `${[
          c.consumerMicrosPerTrade,
          c.postgresMicrosPerTrade,
          c.brokerMicrosPerTrade,
          c.machineMicrosPerTrade,
        ]
          .map((v) => v.toFixed(1))
          .join(' / ')} (${(c.machineBusyShare * 100).toFixed(0)} % busy)`
      : '-'
  const cpuRows: [string, CpuUse | undefined][] = [
    ['  one processor', drain?.cpu],
    ['  one processor, two threads', drainThreads?.cpu],
    ['  two processors', drainTwo?.cpu],
    ['  Connect insert drain', peers?.insert.cpu],
    ['  Connect upsert drain', peers?.upsert.cpu],
  ]
  if (cpuRows.some(([, c]) => c))
    rows.push(
      ['CPU µs per trade, drains: consumer / PostgreSQL / broker / machine', ''],
      ...cpuRows.map(([k, c]): [string, string] => [k, perTrade(c)]),
    )
  if (emb)
    rows.push(
      [`embedded replay into PGlite, ${f(EMBEDDED_N)} trades (trades/s)`, f(emb.replayIngestTradesPerSec)],
      ['  the whole command, start-up included (trades/s)', f(emb.replayTradesPerSec)],
      ['PGlite COPY of the same rows (rows/s)', f(emb.pgliteCopyRowsPerSec)],
      ['  replay vs PGlite COPY', x(ratios.embeddedVsPgliteCopy)],
      ['replay peak RSS (MiB)', f(emb.replayPeakRssBytes / 2 ** 20)],
      [
        'replay with TICKFLOW_EMBEDDED_OPTIMIZE=off (trades/s; peak MiB)',
        `${f(emb.replayNotOptimised.ingestTradesPerSec)}; ${f(emb.replayNotOptimised.peakRssBytes / 2 ** 20)}`,
      ],
      ['  vs PGlite COPY', x(ratios.embeddedNotOptimisedVsPgliteCopy)],
      [
        `tickflow up for ${UP_SECONDS} s, peak MiB: default (not optimised) / optimised`,
        `${f(emb.up.peakRssBytes / 2 ** 20)} / ${f(emb.upOptimised.peakRssBytes / 2 ** 20)}`,
      ],
    )
  const w = Math.max(...rows.map((r) => r[0].length))
  process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`)
  process.stdout.write(
    `targets: ${Object.entries(targets)
      .map(([k, v]) => `${k} ${v.met ? 'met' : 'MISSED'}`)
      .join(', ')}\n`,
  )
} finally {
  for (const w of liveWorkers) w.kill('SIGKILL')
  await kafka?.stop()
  await postgres?.stop()
  rmSync(dir, { recursive: true, force: true })
}
