// tickflow bench: one run, on this machine, with a real Kafka broker and PostgreSQL, measuring
//   1. the limits: Kafka's own ProducerPerformance / ConsumerPerformance on the pipeline's messages,
//      and PostgreSQL COPY of the same rows from a file;
//   2. tickflow: ingest → Kafka → processor (a separate `tickflow process`) → PostgreSQL (ticks and
//      bars) for N trades: sustained throughput and the processor's peak memory (VmHWM);
//   3. latency: event time → committed row at a fixed offered rate (a `tickflow ingest` child
//      emitting in real time; the processor runs in this process so each commit is timed exactly);
//   4. a naive baseline: one INSERT per message in autocommit, as typical demos do.
// Prints a table and writes bench/results/latest.json with every figure and the ratios.
// Usage: node bench/run.ts [--trades 1000000] [--rate 10000] [--latency-seconds 30] [--quick]
//        [--naive-seconds 20] [--out bench/results/latest.json]
import { execFileSync } from 'node:child_process'
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
import { startKafka, root } from '../test/support/kafka.ts'
import { findPostgres, createTestDatabase } from '../test/support/postgres.ts'
import { startCli } from '../test/support/cli.ts'
import { createKafkaBus } from '../src/bus/kafka.ts'
import { connectPostgres } from '../src/store/db.ts'
import { migrate } from '../src/store/migrate.ts'
import { TickStore, storedOffsets, ticksToCopyText } from '../src/store/ticks.ts'
import { createMetrics } from '../src/metrics/registry.ts'
import { simulate, simulator } from '../src/sources/simulator.ts'
import { pump } from '../src/sources/pump.ts'
import { encodeTrade } from '../src/processor/trade.ts'
import { classify, type Tick } from '../src/processor/validate.ts'
import { startProcessor } from '../src/processor/processor.ts'

const benchOptions = {
  options: {
    trades: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '10000' },
    'latency-seconds': { type: 'string', default: '30' },
    'naive-seconds': { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
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
for (const k of ['trades', 'rate', 'latency-seconds', 'naive-seconds'] as const) {
  if (!/^[1-9]\d*$/.test(args[k])) {
    process.stderr.write(
      `tickflow bench: --${k} must be a positive integer, got ${JSON.stringify(args[k])}\n`,
    )
    process.exit(2)
  }
}
const N = args.quick ? 100_000 : Number(args.trades)
const RATE = Number(args.rate)
const LATENCY_S = args.quick ? 10 : Number(args['latency-seconds'])
const NAIVE_S = args.quick ? 5 : Number(args['naive-seconds'])
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
        key: '',
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
    writeFileSync(file, ticksToCopyText(ticks))
    await db.close()
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    log(`PostgreSQL COPY of ${ticks.length} rows from a file`)
    const t0 = performance.now()
    await client.query('begin')
    await pipeline(
      createReadStream(file),
      client.query(
        copyFrom(
          'copy ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts) from stdin',
        ),
      ),
    )
    await client.query('commit')
    const secs = (performance.now() - t0) / 1000
    await client.end()
    return { rowsPerSec: ticks.length / secs }
  } finally {
    await database.drop()
  }
}

async function pipelineThroughput(brokers: string, adminUrl: string) {
  const database = await createTestDatabase(adminUrl)
  const topic = `bench-pipeline-${Date.now()}`
  const group = `bench-${topic}`
  try {
    const bus = createKafkaBus({ brokers: brokers.split(',') })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const db = connectPostgres(database.url)
    await migrate(db)
    const env = {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      DATABASE_URL: database.url,
    }
    const proc = startCli(['process'], env)
    await sleep(3000) // joined the group, waiting for data
    log(`pipeline: ${N} trades through ingest → Kafka → processor → PostgreSQL`)
    const metrics = createMetrics({ defaultMetrics: false })
    const source = simulator.create(
      simulator.options.parse({
        symbols: SYMBOLS,
        rate: 0,
        realtime: false,
        count: N,
        seed: 5,
        start: Date.parse('2026-11-24T14:30:00Z'),
        batchSize: 2000,
      }),
      {
        log: silent,
        metrics,
        signal: new AbortController().signal,
      },
    )
    const t0 = performance.now()
    const producer = bus.producer()
    await pump({ source, producer, topic, log: silent, metrics, maxSend: 5000 })
    const produceSecs = (performance.now() - t0) / 1000
    let peakRss = 0
    const end = await bus.endOffsets(topic)
    for (;;) {
      const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8')
      peakRss = Math.max(peakRss, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024)
      const stored = await storedOffsets(db, group, topic)
      if ([...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)) break
      await sleep(100)
    }
    const secs = (performance.now() - t0) / 1000
    proc.child.kill('SIGTERM')
    await proc.exited
    const [rows] = await db.query<{ n: string; bars: string }>(
      'select (select count(*) from ticks)::text as n, (select count(*) from bars)::text as bars',
    )
    if (Number(rows!.n) !== N) throw new Error(`pipeline stored ${rows!.n} of ${N}`)
    await producer.close()
    await bus.close()
    await db.close()
    return {
      trades: N,
      seconds: secs,
      tradesPerSec: N / secs,
      produceSeconds: produceSecs,
      bars: Number(rows!.bars),
      processorPeakRssBytes: peakRss,
    }
  } finally {
    await database.drop()
  }
}

async function latency(brokers: string, adminUrl: string) {
  const database = await createTestDatabase(adminUrl)
  const topic = `bench-latency-${Date.now()}`
  try {
    const bus = createKafkaBus({ brokers: brokers.split(',') })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const db = connectPostgres(database.url)
    await migrate(db)
    const store = new TickStore(db)
    await store.createAhead()
    const samples: number[] = []
    let warm = false
    const processor = startProcessor({
      bus,
      store,
      topic,
      groupId: `bench-${topic}`,
      log: silent,
      metrics: createMetrics({ defaultMetrics: false }),
      onCommitted: (r) => {
        const now = Date.now()
        if (warm) for (const t of r.stored) samples.push(now - t.tsMs)
      },
    })
    await sleep(3000)
    log(`latency: ${RATE} trades/s offered for ${LATENCY_S} s`)
    const ingest = startCli(
      ['ingest', '--rate', String(RATE), '--duration', `${LATENCY_S + 2}s`, '--symbols', SYMBOLS.join(',')],
      { KAFKA_BROKERS: brokers, KAFKA_TOPIC: topic },
    )
    await sleep(2000)
    warm = true // the first two seconds are start-up (JIT, connections), not steady state
    const exit = await ingest.exited
    if (exit.code !== 0) throw new Error(`ingest failed: ${ingest.output()}`)
    await sleep(1000)
    await processor.close()
    await bus.close()
    await db.close()
    samples.sort((a, b) => a - b)
    return {
      offeredPerSec: RATE,
      seconds: LATENCY_S,
      samples: samples.length,
      p50Ms: percentile(samples, 0.5),
      p99Ms: percentile(samples, 0.99),
      p999Ms: percentile(samples, 0.999),
      maxMs: samples.at(-1) ?? NaN,
    }
  } finally {
    await database.drop()
  }
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

const dir = mkdtempSync(join(tmpdir(), 'tickflow-bench-'))
const postgres = await findPostgres()
const kafka = process.env.KAFKA_BROKERS
  ? undefined
  : await startKafka(join(dir, 'kafka'), [{ nodeId: 1, port: 29092, controllerPort: 29093, jmxPort: 27071 }])
const brokers = process.env.KAFKA_BROKERS ?? kafka!.brokers
try {
  const messages = sampleMessages(N, 9)
  const kafkaLimit = await kafkaLimits(brokers, dir, messages)
  const copy = await copyLimit(postgres.adminUrl, dir, messages)
  const pipe = await pipelineThroughput(brokers, postgres.adminUrl)
  const lat = await latency(brokers, postgres.adminUrl)
  const base = await naive(brokers, postgres.adminUrl, messages.slice(0, 200_000))
  const wall = Math.min(kafkaLimit.consumeMsgsPerSec, copy.rowsPerSec)
  const results = {
    when: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: postgres.origin,
      kafka: '4.3.1 single KRaft node on the same machine',
    },
    limits: {
      kafkaProduceMsgsPerSec: kafkaLimit.produceMsgsPerSec,
      kafkaConsumeMsgsPerSec: kafkaLimit.consumeMsgsPerSec,
      postgresCopyRowsPerSec: copy.rowsPerSec,
      messageBytes: kafkaLimit.messageBytes,
    },
    pipeline: pipe,
    latency: lat,
    naive: base,
    ratios: {
      pipelineVsKafkaConsume: pipe.tradesPerSec / kafkaLimit.consumeMsgsPerSec,
      pipelineVsCopy: pipe.tradesPerSec / copy.rowsPerSec,
      pipelineVsMinLimit: pipe.tradesPerSec / wall,
      pipelineVsNaive: pipe.tradesPerSec / base.msgsPerSec,
    },
    targets: {
      throughputAtLeastHalfOfMinLimit: pipe.tradesPerSec >= 0.5 * wall,
      atLeast30xNaive: pipe.tradesPerSec >= 30 * base.msgsPerSec,
      p99Under250ms: lat.p99Ms < 250,
      processorUnder300MB: pipe.processorPeakRssBytes < 300 * 2 ** 20,
    },
  }
  const out = resolve(root, args.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  const f = (n: number): string => Math.round(n).toLocaleString('en')
  const rows: [string, string][] = [
    ['Kafka ProducerPerformance (msg/s)', f(kafkaLimit.produceMsgsPerSec)],
    ['Kafka ConsumerPerformance (msg/s)', f(kafkaLimit.consumeMsgsPerSec)],
    ['PostgreSQL COPY from file (rows/s)', f(copy.rowsPerSec)],
    [`tickflow pipeline, ${f(N)} trades (trades/s)`, f(pipe.tradesPerSec)],
    ['  vs min(Kafka consume, COPY)', `${(results.ratios.pipelineVsMinLimit * 100).toFixed(1)} %`],
    ['  vs naive baseline', `${results.ratios.pipelineVsNaive.toFixed(1)} ×`],
    ['naive one-INSERT-per-message (msg/s)', f(base.msgsPerSec)],
    [`latency at ${f(RATE)}/s: p50 / p99 / p99.9 (ms)`, `${lat.p50Ms} / ${lat.p99Ms} / ${lat.p999Ms}`],
    ['processor peak RSS (MiB)', f(pipe.processorPeakRssBytes / 2 ** 20)],
  ]
  const w = Math.max(...rows.map((r) => r[0].length))
  process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`)
  process.stdout.write(
    `targets: ${Object.entries(results.targets)
      .map(([k, v]) => `${k} ${v ? 'met' : 'MISSED'}`)
      .join(', ')}\n`,
  )
} finally {
  await kafka?.stop()
  await postgres.stop()
  rmSync(dir, { recursive: true, force: true })
}
