// One Spark job on a live topic, side by side with tickflow's processor, for what the two do
// differently or must do alike when trades do not arrive once and in order:
// - late trades: Spark drops a (trade, interval) row whose window ended at or before its one global
//   watermark (latest event time of earlier micro-batches minus 5 s); tickflow applies them all.
//   Spark's numRowsDroppedByWatermark counts the rows reaching its state store, which are already
//   aggregated per (symbol, interval, window) within a micro-batch: groups, not trades.
// - repeated trade ids (a producer's retry): both count the trade once.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'
import { freePort, pipelineEnv, testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { waitCaughtUp } from '../support/scenario.ts'
import { checkBars } from '../support/bars.ts'
import {
  buildSparkJob,
  diffBars,
  sparkBars,
  sparkMetric,
  startSparkJob,
  tickflowBars,
  truth,
  waitFor,
  type SparkJob,
} from '../support/spark.ts'

const T0 = Date.parse('2026-11-24T10:00:00Z')
const LATE_SYMBOLS = ['LATE1', 'LATE2']
const DUP = 'DUP1'
// The watermark once the on-time trades (up to T0 + 120 s) are in: T0 + 120 s - 5 s.
const W = T0 + 115_000
/** Late trades (ts relative to T0), two each, 100 ms apart, and the intervals closed for them at W. */
const LATE = [
  { at: 114_500, dropped: ['1s'] },
  { at: 30_250, dropped: ['1s', '1m'] },
  { at: -599_000, dropped: ['1s', '1m', '5m', '1h'] },
  { at: -86_400_000, dropped: ['1s', '1m', '5m', '1h', '1d'] },
  { at: 115_500, dropped: [] },
]
/** DUP1's on-time trades sent again: right behind the first copies, and after the watermark moved. */
const REPEAT_EARLY = [10, 11, 200]
const REPEAT_LATER = [0, 230, 231, 232]

const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z')
const trade = (symbol: string, ms: number, i: number, id: string) => ({
  key: symbol,
  value: encodeTrade({
    v: 1,
    type: 'trade',
    symbol,
    ts: iso(ms),
    price: `${100 + (i % 7)}.${i % 10}5`,
    size: `${1 + (i % 3)}.5`,
    source: 'test',
    id,
  }),
})
const onTime = (s: string, i: number) => trade(s, T0 + i * 500, i, `${s}-on-${i}`)

const ON_TIME = [...LATE_SYMBOLS, DUP].flatMap((s) => Array.from({ length: 241 }, (_, i) => onTime(s, i)))
const FIRST = [...ON_TIME, ...REPEAT_EARLY.map((i) => onTime(DUP, i))]
const SECOND = [
  ...LATE_SYMBOLS.flatMap((s) =>
    LATE.flatMap((l, k) => [0, 1].map((j) => trade(s, T0 + l.at + j * 100, k + j, `${s}-late-${k}-${j}`))),
  ),
  ...REPEAT_LATER.map((i) => onTime(DUP, i)),
]
const TICKS =
  "(select symbol, ts, price, size, ingest_seq as seq, trade_id like '%-late-%' as late from ticks)"
// A (trade, interval) row whose window ended at or before the watermark: Spark's late rows.
const CLOSED = `t.late and tickflow_bucket(iv, t.ts, 'UTC') + (case iv when '1s' then interval '1 second' when '1m' then interval '1 minute' when '5m' then interval '5 minutes' when '1h' then interval '1 hour' else interval '1 day' end) <= to_timestamp(${W / 1000})`

let database: TestDatabase
let db: Db
let dir: string
let job: SparkJob
let proc: CliProcess
let dropped: number | undefined
let repeatsDropped: number | undefined

/** Waits for `ok`, failing at once when the job has exited or `over` says it went past. */
async function waitJob(what: string, ms: number, ok: () => Promise<boolean>, over?: () => Promise<string>) {
  let exited = false
  void job.exited.then(() => (exited = true))
  await waitFor(
    what,
    ms,
    async () => {
      if (exited) throw new Error(`the Spark job exited while waiting for ${what}: ${job.output()}`)
      const past = over && (await over())
      if (past) throw new Error(`${what}: ${past}`)
      return ok()
    },
    job.output,
  )
}

describe('Spark and tickflow on late and repeated trades', { timeout: 600_000 }, () => {
  before(async () => {
    buildSparkJob()
    database = await createTestDatabase()
    db = connectPostgres(database.url)
    dir = mkdtempSync(join(tmpdir(), 'tickflow-spark-late-'))
    const env = pipelineEnv(uniqueTopic('spark-late'), database.url)
    const bus = createKafkaBus({ brokers: testBrokers() })
    try {
      await bus.ensureTopic({ name: env.KAFKA_TOPIC, partitions: 2 })
      const producer = bus.producer()
      await producer.send(env.KAFKA_TOPIC, FIRST)
      const port = await freePort()
      job = startSparkJob(
        ['--trigger', '500ms', '--checkpoint', join(dir, 'ckpt'), '--metrics-port', String(port)],
        // A short run of a few hundred trades: the C1 compiler alone starts the JVM on less CPU.
        { ...env, JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1' },
      )
      const metric = (name: string) => sparkMetric(port, name)
      // Batch 0 reads FIRST; the no-data batch after it runs at the watermark it set.
      await waitJob('the watermark at T0 + 115 s', 300_000, async () => {
        return (await metric('tickflow_spark_watermark_timestamp_seconds')) === W / 1000
      })
      // The job has migrated the database: the processor can start.
      proc = startCli(['process'], env)
      await producer.send(env.KAFKA_TOPIC, SECOND)
      const total = FIRST.length + SECOND.length
      await waitJob(
        'Spark to read the late and repeated trades',
        90_000,
        async () => (await metric('tickflow_spark_input_rows_total')) === total,
        async () => {
          const n = (await metric('tickflow_spark_input_rows_total')) ?? 0
          return n > total ? `read ${n} rows, only ${total} were sent` : ''
        },
      )
      // Its progress is reported after its foreachBatch committed: the bars are in PostgreSQL.
      dropped = await metric('tickflow_spark_rows_dropped_by_watermark_total')
      repeatsDropped = await metric('tickflow_spark_duplicates_dropped_total')
      job.kill()
      await waitCaughtUp(testBrokers(), db, 'proc', env.KAFKA_TOPIC, 120_000, proc.output)
    } finally {
      await bus.close()
    }
  })
  after(async () => {
    job?.kill()
    if (proc) {
      proc.child.kill('SIGTERM')
      await proc.exited
    }
    await db?.close()
    await database?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('late trades: Spark drops exactly the rows behind its watermark, tickflow applies them all', async () => {
    const lateTrades = LATE_SYMBOLS.length * LATE.length * 2
    // tickflow: every late trade applied; its bars equal the GROUP BY over all trades.
    const tf = await checkBars(db)
    assert.deepEqual({ missing: tf.missing, extra: tf.extra }, { missing: 0, extra: 0 })
    const [stored] = await db.query<{ n: string }>(
      "select count(*)::text as n from ticks where trade_id like '%-late-%'",
    )
    assert.equal(stored!.n, String(lateTrades))

    // Spark: the (late trade, interval) rows behind the watermark, exactly those, are missing.
    const [closed] = await db.query<{ rows: string; groups: string }>(
      `select count(*)::text as rows, count(distinct (symbol, iv, tickflow_bucket(iv, t.ts, 'UTC')))::text as groups
       from ${TICKS} t cross join unnest(array['1s', '1m', '5m', '1h', '1d']) as iv where ${CLOSED}`,
    )
    const expectedRows = LATE_SYMBOLS.length * 2 * LATE.reduce((n, l) => n + l.dropped.length, 0)
    assert.deepEqual(closed, { rows: String(expectedRows), groups: String(expectedRows / 2) })
    assert.equal(expectedRows, 48)
    // The job's counter: one per (symbol, interval, window) a late pair fell in, as the pair came
    // in one micro-batch and was aggregated before the state store dropped it.
    assert.equal(dropped, 24, 'tickflow_spark_rows_dropped_by_watermark_total')
    const d = await diffBars(db, sparkBars, truth(TICKS, `not (${CLOSED})`))
    assert.deepEqual(d, { left: d.right, right: d.right, onlyLeft: 0, onlyRight: 0 })

    const perInterval = await db.query<{ interval: string; spark: string; tickflow: string }>(
      `select interval, s.n::text as spark, b.n::text as tickflow from
       (select interval, sum(trades) n from spark_bars group by 1) s
       join (select interval, sum(trades) n from bars group by 1) b using (interval) order by 1`,
    )
    const ontime = ON_TIME.length
    const lateIn = (iv: string): number =>
      LATE_SYMBOLS.length * 2 * LATE.filter((l) => !l.dropped.includes(iv)).length
    assert.deepEqual(
      perInterval,
      ['1d', '1h', '1m', '1s', '5m'].map((iv) => ({
        interval: iv,
        spark: String(ontime + lateIn(iv)),
        tickflow: String(ontime + lateTrades),
      })),
    )
    assert.deepEqual(
      ['1s', '1m', '5m', '1h', '1d'].map((iv) => lateIn(iv)),
      [4, 8, 12, 12, 16],
    )
  })

  test('a repeated trade id counts once in Spark as in tickflow: bars equal the GROUP BY', async () => {
    const [dead] = await db.query<{ n: string }>(
      "select count(*)::text as n from dead_letters where reason = 'duplicate_trade_id' and key = $1",
      [DUP],
    )
    assert.equal(dead!.n, String(REPEAT_EARLY.length + REPEAT_LATER.length))
    // Spark drops them, and says how many.
    assert.equal(
      repeatsDropped,
      REPEAT_EARLY.length + REPEAT_LATER.length,
      'tickflow_spark_duplicates_dropped_total',
    )
    const only = (q: string): string => `select * from (${q}) z where symbol = '${DUP}'`
    const vsTruth = await diffBars(db, only(sparkBars), only(truth(TICKS)))
    assert.deepEqual(vsTruth, { left: vsTruth.right, right: vsTruth.right, onlyLeft: 0, onlyRight: 0 })
    const vsTickflow = await diffBars(db, only(sparkBars), only(tickflowBars))
    assert.deepEqual(vsTickflow, { left: vsTruth.right, right: vsTruth.right, onlyLeft: 0, onlyRight: 0 })
    const counts = await db.query<{ interval: string; bars: string; trades: string }>(
      `select interval, count(*)::text as bars, sum(trades)::text as trades from spark_bars
       where symbol = $1 group by 1 order by 1`,
      [DUP],
    )
    // 241 trades 500 ms apart from 10:00:00: 121 seconds, 3 minutes, one 5m, 1h and 1d bar.
    assert.deepEqual(counts, [
      { interval: '1d', bars: '1', trades: '241' },
      { interval: '1h', bars: '1', trades: '241' },
      { interval: '1m', bars: '3', trades: '241' },
      { interval: '1s', bars: '121', trades: '241' },
      { interval: '5m', bars: '1', trades: '241' },
    ])
  })
})
