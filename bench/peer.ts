// The peer in `tickflow bench`: the tool a data engineer would pick instead of tickflow's processor,
// Kafka Connect (standalone worker, the Kafka jars scripts/kafka-jars.sh fetches) with the Debezium
// JDBC sink (the plugin scripts/connect-jars.sh fetches from Maven Central), draining the same
// trades from a topic laid out like the pipeline's (6 partitions, key = symbol) into the same
// PostgreSQL. Its configuration is the one measured fastest on this kind of machine: 2 tasks,
// batches of 5,000 and `reWriteBatchedInserts=true` on the JDBC URL.
//
// The sink needs each value as a Connect Struct, so every trade travels in JsonConverter's envelope
// (schema + payload); price and size are Connect Decimals (scale 4, exact) and the event time is
// Debezium's MicroTimestamp (exact to the microsecond, like `ticks.ts`).
//
// Throughput is first row to last row, read from the rows themselves (`stored_at` defaults to
// clock_timestamp()), so neither the worker's start-up nor the polling is counted. A kill run
// SIGKILLs the worker once 40 % of the rows are stored, starts it again and counts what the table
// holds when it is done: duplicates (rows − distinct trade ids) and losses (trades − distinct ids).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { createKafkaBus } from '../src/bus/kafka.ts'
import type { Trade } from '../src/domain/trade.ts'
import { createTestDatabase } from '../test/support/postgres.ts'
import { freePort } from '../test/support/topics.ts'
import { root } from '../test/support/kafka.ts'
import { CpuTimeline, procStat, type CpuUse } from './cpu.ts'

export type PeerMode = 'insert' | 'upsert'

export interface PeerRun {
  mode: PeerMode
  killed: boolean
  trades: number
  /** Rows in the table at the end, distinct trade ids among them. */
  rows: number
  distinctIds: number
  duplicates: number
  losses: number
  /** count, distinct ids and sum(price × size) all equal the trades sent. */
  exact: boolean
  /** Kill runs: sum(price × size) over the distinct trade ids equals the trades sent. */
  notionalOfDistinctExact?: boolean
  /** First stored row to last stored row. */
  seconds: number
  rowsPerSec: number
  /** Worker spawn to the first stored row. */
  startupSeconds: number
  /** Rows stored when the worker was killed (kill runs only). */
  rowsAtKill?: number
  bytesPerMessage: number
  /** The worker JVM's peak resident memory (VmHWM) and CPU time (user + system), last worker. */
  connectPeakRssBytes: number
  connectCpuSeconds: number
  /** Runs without a kill: the CPU of the worker, PostgreSQL, the broker and the machine over the drain. */
  cpu?: CpuUse
}

const SCALE = 4
const DEBEZIUM_VERSION = '3.6.0.Final'

/** Fetches (once, cached) the Kafka jars and the Debezium JDBC sink plugin. */
export function ensureConnectJars(): string {
  execFileSync(join(root, 'scripts/connect-jars.sh'), { stdio: ['ignore', 'ignore', 'inherit'] })
  const plugins = join(root, '.cache/connect/plugins')
  if (!existsSync(join(plugins, 'debezium-connector-jdbc')))
    throw new Error(`the Debezium JDBC sink ${DEBEZIUM_VERSION} is missing: run scripts/connect-jars.sh`)
  return plugins
}

/** An exact decimal string as a Connect Decimal of scale 4: base64 of the big-endian two's complement. */
export function connectDecimal(v: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v)
  if (!m) throw new Error(`not a decimal: ${v}`)
  const frac = m[3] ?? ''
  if (frac.length > SCALE && /[1-9]/.test(frac.slice(SCALE)))
    throw new Error(`${v} has more than ${SCALE} decimals`)
  let unscaled = BigInt(`${m[2]}${frac.slice(0, SCALE).padEnd(SCALE, '0')}`)
  if (m[1]) unscaled = -unscaled
  // Minimal two's complement bytes, as java.math.BigInteger.toByteArray() gives them.
  let hex = (unscaled < 0n ? -unscaled : unscaled).toString(16)
  if (hex.length % 2) hex = `0${hex}`
  let bytes = Buffer.from(hex, 'hex')
  if (unscaled >= 0n) {
    if (bytes.length === 0 || bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
  } else {
    const width = bytes.length + 1
    let twos = (1n << BigInt(width * 8)) + unscaled
    const out = Buffer.alloc(width)
    for (let i = width - 1; i >= 0; i--) {
      out[i] = Number(twos & 0xffn)
      twos >>= 8n
    }
    bytes = out
    while (bytes.length > 1 && bytes[0] === 0xff && bytes[1]! & 0x80) bytes = bytes.subarray(1)
  }
  return bytes.toString('base64')
}

/** `2026-11-24T14:30:00.001273Z` → microseconds since the epoch. */
function isoToMicros(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(ts)
  if (!m) throw new Error(`not an ISO UTC time: ${ts}`)
  return Date.parse(`${m[1]}Z`) * 1000 + Number((m[2] ?? '').padEnd(6, '0'))
}

const decimalSchema = (field: string) => ({
  field,
  type: 'bytes',
  optional: false,
  name: 'org.apache.kafka.connect.data.Decimal',
  version: 1,
  parameters: { scale: String(SCALE) },
})
const ENVELOPE_SCHEMA = {
  type: 'struct',
  optional: false,
  name: 'tickflow.Trade',
  fields: [
    { field: 'trade_id', type: 'string', optional: false },
    { field: 'symbol', type: 'string', optional: false },
    { field: 'ts', type: 'int64', optional: false, name: 'io.debezium.time.MicroTimestamp', version: 1 },
    decimalSchema('price'),
    decimalSchema('size'),
    { field: 'source', type: 'string', optional: false },
  ],
}

/** One trade in the JsonConverter envelope the sink needs (schemas.enable=true). */
export function connectEnvelope(t: Trade): string {
  if (!t.id) throw new Error('the peer needs trade ids')
  return JSON.stringify({
    schema: ENVELOPE_SCHEMA,
    payload: {
      trade_id: t.id,
      symbol: t.symbol,
      ts: isoToMicros(t.ts),
      price: connectDecimal(t.price),
      size: connectDecimal(t.size),
      source: t.source,
    },
  })
}

/** sum(price × size) of the trades, exactly, as PostgreSQL prints a numeric of scale 2 × SCALE. */
export function notional(trades: Trade[]): string {
  const units = (v: string): bigint => {
    const [i, f = ''] = v.split('.')
    return BigInt(`${i}${f.padEnd(SCALE, '0').slice(0, SCALE)}`)
  }
  let sum = 0n
  for (const t of trades) sum += units(t.price) * units(t.size)
  const s = sum.toString().padStart(2 * SCALE + 1, '0')
  return `${s.slice(0, -2 * SCALE)}.${s.slice(-2 * SCALE)}`
}

interface Worker {
  child: ChildProcess
  exited: Promise<void>
  output: () => string
  stats: { rss: number; cpu: number }
}

function startWorker(dir: string, workerProps: string, sinkProps: string): Worker {
  const child = spawn(
    'java',
    [
      '-Xms256M',
      '-Xmx2G',
      `-Dlog4j2.configurationFile=${join(dir, 'connect-log4j2.properties')}`,
      '-cp',
      join(root, '.cache/kafka/libs/*'),
      'org.apache.kafka.connect.cli.ConnectStandalone',
      workerProps,
      sinkProps,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const w: Worker = {
    child,
    exited: new Promise((resolve) => child.on('exit', () => resolve())),
    output: () => out,
    stats: { rss: 0, cpu: 0 },
  }
  return w
}

function sample(w: Worker): void {
  if (w.child.pid === undefined || w.child.exitCode !== null) return
  const s = procStat(w.child.pid)
  if (s.rss > 0) w.stats = { rss: Math.max(w.stats.rss, s.rss), cpu: s.cpu }
}

async function stopWorker(w: Worker, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return
  w.child.kill(signal)
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 20_000)
  await w.exited
  clearTimeout(timer)
}

export interface PeerOptions {
  brokers: string
  adminUrl: string
  dir: string
  trades: Trade[]
  mode: PeerMode
  kill: boolean
  log: (m: string) => void
  /** Give up after this long without the last row (default one hour). */
  timeoutMs?: number
}

/** All live workers, so an interrupted bench can stop them. */
export const liveWorkers = new Set<ChildProcess>()

export async function runPeer(o: PeerOptions): Promise<PeerRun> {
  const plugins = ensureConnectJars()
  const n = o.trades.length
  const database = await createTestDatabase(o.adminUrl)
  const stamp = `${o.mode}${o.kill ? '-kill' : ''}-${Date.now()}`
  const topic = `bench-connect-${stamp}`
  const client = new pg.Client({ connectionString: database.url })
  const workers: Worker[] = []
  try {
    await client.connect()
    // The table the sink would create (schema.evolution=basic), plus the time each row arrived.
    await client.query(
      `create table peer_ticks (trade_id text not null ${o.mode === 'upsert' ? 'primary key' : ''},
        symbol text not null, ts timestamp(6) not null, price numeric not null, size numeric not null,
        source text not null, stored_at timestamptz not null default clock_timestamp())`,
    )
    const bus = createKafkaBus({ brokers: o.brokers.split(',') })
    await bus.ensureTopic({ name: topic, partitions: 6 })
    const producer = bus.producer()
    let bytes = 0
    for (let i = 0; i < n; i += 5000) {
      const batch = o.trades.slice(i, i + 5000).map((t) => {
        const value = connectEnvelope(t)
        bytes += Buffer.byteLength(value)
        return { key: t.symbol, value }
      })
      await producer.send(topic, batch)
    }
    await producer.close()
    await bus.close()

    const url = new URL(database.url)
    const jdbc = `jdbc:postgresql://${url.hostname}:${url.port || 5432}${url.pathname}?reWriteBatchedInserts=true`
    const restPort = await freePort()
    const workerProps = join(o.dir, `connect-${stamp}.properties`)
    const sinkProps = join(o.dir, `sink-${stamp}.properties`)
    writeFileSync(
      join(o.dir, 'connect-log4j2.properties'),
      'rootLogger.level = warn\nrootLogger.appenderRef.stderr.ref = STDERR\nappender.stderr.type = Console\n' +
        'appender.stderr.name = STDERR\nappender.stderr.target = SYSTEM_ERR\nappender.stderr.layout.type = PatternLayout\n' +
        'appender.stderr.layout.pattern = [%d] %p %m (%c)%n\n',
    )
    writeFileSync(
      workerProps,
      [
        `bootstrap.servers=${o.brokers}`,
        `listeners=http://127.0.0.1:${restPort}`,
        'key.converter=org.apache.kafka.connect.storage.StringConverter',
        'value.converter=org.apache.kafka.connect.json.JsonConverter',
        'value.converter.schemas.enable=true',
        `offset.storage.file.filename=${join(o.dir, `connect-${stamp}.offsets`)}`,
        'offset.flush.interval.ms=10000',
        `plugin.path=${plugins}`,
        'connector.client.config.override.policy=All',
        '',
      ].join('\n'),
    )
    writeFileSync(
      sinkProps,
      [
        `name=peer-${stamp}`,
        'connector.class=io.debezium.connector.jdbc.JdbcSinkConnector',
        'tasks.max=2',
        `topics=${topic}`,
        `connection.url=${jdbc}`,
        `connection.username=${decodeURIComponent(url.username) || 'postgres'}`,
        `connection.password=${decodeURIComponent(url.password)}`,
        `insert.mode=${o.mode}`,
        ...(o.mode === 'upsert' ? ['primary.key.mode=record_value', 'primary.key.fields=trade_id'] : []),
        'schema.evolution=basic',
        'table.name.format=peer_ticks',
        'batch.size=5000',
        'consumer.override.max.poll.records=5000',
        'consumer.override.auto.offset.reset=earliest',
        // After a SIGKILL the restarted worker's consumers wait for the dead ones' sessions to
        // expire (45 s by default) before the group is assigned again: in the kill runs, which
        // count duplicates and losses, not speed, the sessions are as short as tickflow's (6 s).
        ...(o.kill
          ? ['consumer.override.session.timeout.ms=6000', 'consumer.override.heartbeat.interval.ms=1000']
          : []),
        '',
      ].join('\n'),
    )

    const count = async (): Promise<number> =>
      Number((await client.query<{ n: string }>('select count(*)::text as n from peer_ticks')).rows[0]!.n)
    // Progress from the table's statistics, not count(*): a count over a million rows costs about
    // 140 ms of a core, and twice a second that was CPU taken from the peer on the shared cores.
    // The counters lag by about a second while rows arrive and up to 10 s after the last one (the
    // CPU window is cut from the rows' times for that reason); the exact count is read once they
    // reach every trade.
    const progress = async (): Promise<{ inserted: number; moved: number }> => {
      const [r] = (
        await client.query<{ ins: string; upd: string }>(
          `select n_tup_ins::text as ins, n_tup_upd::text as upd from pg_stat_user_tables
           where relid = 'peer_ticks'::regclass`,
        )
      ).rows
      return { inserted: Number(r?.ins ?? 0), moved: Number(r?.ins ?? 0) + Number(r?.upd ?? 0) }
    }
    const launch = (): Worker => {
      const w = startWorker(o.dir, workerProps, sinkProps)
      workers.push(w)
      liveWorkers.add(w.child)
      void w.exited.then(() => liveWorkers.delete(w.child))
      return w
    }
    o.log(
      `peer: Kafka Connect + Debezium JDBC sink, ${o.mode}${o.kill ? ', SIGKILL at 40 %' : ''}, ${n} trades`,
    )
    const spawnedAt = Date.now()
    let worker = launch()
    // The CPU over the drain, cut afterwards from the first to the last stored row (bench/cpu.ts).
    const cpu = o.kill
      ? undefined
      : new CpuTimeline(() => (worker.child.pid === undefined ? [] : [worker.child.pid]))
    const deadline = Date.now() + (o.timeoutMs ?? 3_600_000)
    let rowsAtKill: number | undefined
    let last = -1
    let stableSince = Date.now()
    for (;;) {
      await sleep(500)
      sample(worker)
      if (worker.child.exitCode !== null)
        throw new Error(`Kafka Connect exited (${worker.child.exitCode}): ${worker.output()}`)
      const { inserted, moved } = await progress()
      if (o.kill && rowsAtKill === undefined && inserted >= 0.4 * n) {
        await stopWorker(worker, 'SIGKILL')
        rowsAtKill = await count()
        o.log(`peer: worker killed with ${rowsAtKill} rows stored; starting it again`)
        worker = launch()
        continue
      }
      if (moved !== last) {
        last = moved
        stableSince = Date.now()
      }
      // Done when every trade has a row and nothing has moved for 5 s (a restarted insert-mode
      // worker may still be writing the duplicates of what it replays).
      if (inserted >= n && (!o.kill || Date.now() - stableSince >= 5000) && (await count()) >= n) break
      if (Date.now() > deadline) throw new Error(`the peer stored ${await count()} of ${n} rows in time`)
    }
    const [span] = (
      await client.query<{ first: number; last: number }>(
        `select extract(epoch from min(stored_at))::float8 * 1000 as first,
           extract(epoch from max(stored_at))::float8 * 1000 as last from peer_ticks`,
      )
    ).rows
    const cpuUsed = cpu?.window(span!.first, span!.last, n)
    cpu?.stop()
    sample(worker)
    await stopWorker(worker)
    const [r] = (
      await client.query<{
        rows: string
        ids: string
        notional: string
        first: number
        last: number
      }>(
        `select count(*)::text as rows, count(distinct trade_id)::text as ids,
           sum(price * size)::text as notional,
           extract(epoch from min(stored_at))::float8 as first, extract(epoch from max(stored_at))::float8 as last
         from peer_ticks`,
      )
    ).rows
    const rows = Number(r!.rows)
    const ids = Number(r!.ids)
    // price × size of every distinct trade, once (duplicates would inflate the plain sum).
    const expected = notional(o.trades)
    const distinctNotional =
      rows === ids
        ? r!.notional
        : (
            await client.query<{ s: string }>(
              'select sum(price * size)::text as s from (select distinct on (trade_id) price, size from peer_ticks) d',
            )
          ).rows[0]!.s
    const seconds = r!.last - r!.first
    return {
      mode: o.mode,
      killed: o.kill,
      trades: n,
      rows,
      distinctIds: ids,
      duplicates: rows - ids,
      losses: n - ids,
      exact: rows === n && ids === n && r!.notional === expected,
      ...(o.kill ? { notionalOfDistinctExact: distinctNotional === expected } : {}),
      seconds,
      rowsPerSec: n / seconds,
      startupSeconds: r!.first - spawnedAt / 1000,
      ...(rowsAtKill === undefined ? {} : { rowsAtKill }),
      bytesPerMessage: bytes / n,
      connectPeakRssBytes: Math.max(...workers.map((w) => w.stats.rss)),
      connectCpuSeconds: workers.reduce((a, w) => a + w.stats.cpu, 0),
      ...(cpuUsed ? { cpu: cpuUsed } : {}),
    }
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')))
    await client.end().catch(() => {})
    await database.drop()
  }
}
