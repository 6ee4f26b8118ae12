// The Spark job (analytics/spark) against real Kafka, PostgreSQL and Spark 4.2 in local[*]: its
// bars equal tickflow's bars and the SQL GROUP BY over ticks, exactly, for every interval, on 100,000
// simulated trades over 50 symbols (JSON) and on the recorded Binance feed (Avro in the Confluent
// wire format, schemas from the registry); a replayed micro-batch and a SIGKILL + restart change
// nothing; bad messages are dead-lettered with the validator's reasons.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'
import { freePort, pipelineEnv, testBrokers, uniqueTopic } from '../support/topics.ts'
import { runCli, startCli } from '../support/cli.ts'
import { binanceFeedTrades, dataFile } from '../support/data.ts'
import { waitCaughtUp } from '../support/scenario.ts'
import { checkBars } from '../support/bars.ts'
import { startRegistry } from '../support/registry.ts'
import { SchemaRegistry } from '../../src/bus/registry.ts'
import { AvroTradeEncoder, tradeSchema } from '../../src/bus/wire.ts'
import {
  buildSparkJob,
  diffBars,
  sparkBars,
  sparkText,
  startSparkJob,
  tickflowBars,
  tickflowText,
  truth,
  waitFor,
} from '../support/spark.ts'

const TICKS = '(select symbol, ts, price, size, ingest_seq as seq from ticks)'
const SYMBOLS = Array.from({ length: 50 }, (_, i) => `S${String(i).padStart(2, '0')}`)

async function services(
  name: string,
): Promise<{ database: TestDatabase; db: Db; env: Record<string, string>; dir: string }> {
  const database = await createTestDatabase()
  const db = connectPostgres(database.url)
  const dir = mkdtempSync(join(tmpdir(), `tickflow-spark-${name}-`))
  const env = pipelineEnv(uniqueTopic(`spark-${name}`), database.url)
  return { database, db, env, dir }
}

/** tickflow's processor until it has committed everything in the topic. */
async function processAll(db: Db, env: Record<string, string>): Promise<void> {
  const proc = startCli(['process'], env)
  try {
    await waitCaughtUp(testBrokers(), db, 'proc', env.KAFKA_TOPIC!, 240_000, proc.output)
  } finally {
    proc.child.kill('SIGTERM')
    await proc.exited
  }
}

/** The job over the whole backlog (trigger available-now: it stops by itself). */
async function sparkBacklog(
  env: Record<string, string>,
  checkpoint: string,
  extra: string[] = [],
): Promise<string> {
  const job = startSparkJob(
    [
      '--trigger',
      'available-now',
      '--checkpoint',
      checkpoint,
      '--metrics-port',
      '0',
      '--max-offsets-per-trigger',
      '20000',
      ...extra,
    ],
    env,
  )
  const { code } = await job.exited
  assert.equal(code, 0, job.output())
  return job.output()
}

async function assertAllEqual(db: Db, where = ''): Promise<void> {
  const filter = (q: string): string => `select * from (${q}) z ${where}`
  const tf = await checkBars(db)
  assert.deepEqual(
    { missing: tf.missing, extra: tf.extra },
    { missing: 0, extra: 0 },
    'tickflow bars = GROUP BY',
  )
  const vsTruth = await diffBars(db, filter(sparkBars), filter(truth(TICKS)))
  assert.equal(vsTruth.onlyLeft + vsTruth.onlyRight, 0, `Spark bars = GROUP BY: ${JSON.stringify(vsTruth)}`)
  const vsTickflow = await diffBars(db, filter(sparkBars), filter(tickflowBars))
  assert.deepEqual(
    { onlyLeft: vsTickflow.onlyLeft, onlyRight: vsTickflow.onlyRight },
    { onlyLeft: 0, onlyRight: 0 },
    `Spark bars = tickflow bars: ${JSON.stringify(vsTickflow)}`,
  )
  assert.ok(vsTickflow.left > 0)
  const text = await diffBars(db, filter(sparkText), filter(tickflowText))
  assert.equal(text.onlyLeft + text.onlyRight, 0, 'volume, pv and vwap equal as text (same scales)')
}

before(() => buildSparkJob())

describe('Spark on 100,000 simulated trades over 50 symbols', { timeout: 3_000_000 }, () => {
  let s: Awaited<ReturnType<typeof services>>
  const bad = [
    { key: 'S00', value: '{"v":1,"type":"trade"' },
    {
      key: 'S00',
      value: JSON.stringify({
        v: 1,
        type: 'trade',
        symbol: 'S00',
        ts: '2026-11-24T14:30:00Z',
        price: '-1',
        size: '1',
        source: 't',
      }),
    },
    {
      key: 'S01',
      value: JSON.stringify({
        v: 1,
        type: 'trade',
        symbol: 'S00',
        ts: '2026-11-24T14:30:00Z',
        price: '1',
        size: '1',
        source: 't',
      }),
    },
    // valid for tickflow; 9 fraction digits leave Spark's exact decimal(18,8): dead-lettered, not rounded
    {
      key: 'RANGE',
      value: JSON.stringify({
        v: 1,
        type: 'trade',
        symbol: 'RANGE',
        ts: '2026-11-24T14:30:00Z',
        price: '1.123456789',
        size: '3',
        source: 't',
      }),
    },
  ]

  before(
    async () => {
      s = await services('sim')
      const ingest = await runCli(
        [
          'ingest',
          '--rate',
          '0',
          '--count',
          '100000',
          '--seed',
          '17',
          '--start',
          '2026-11-24T14:30:00Z',
          '--symbols',
          SYMBOLS.join(','),
        ],
        s.env,
      )
      assert.equal(ingest.code, 0, ingest.output)
      const bus = createKafkaBus({ brokers: testBrokers() })
      await bus.producer().send(s.env.KAFKA_TOPIC!, bad)
      await bus.close()
      await processAll(s.db, s.env)
    },
    { timeout: 600_000 },
  )
  after(async () => {
    await s.db.close()
    await s.database.drop()
    rmSync(s.dir, { recursive: true, force: true })
  })

  test(
    'Spark bars == tickflow bars == GROUP BY for every interval; bad messages dead-lettered',
    { timeout: 600_000 },
    async () => {
      await sparkBacklog(s.env, join(s.dir, 'ckpt'))
      await assertAllEqual(s.db, "where symbol <> 'RANGE'")
      const [daily] = await s.db.query<{ n: string }>(
        "select sum(trades)::text as n from spark_bars where interval = '1d'",
      )
      assert.equal(daily!.n, '100000')
      const dead = await s.db.query<{ reason: string; key: string }>(
        'select reason, key from spark_dead_letters order by "offset"',
      )
      assert.deepEqual(dead.map((d) => d.reason).sort(), [
        'bad_price',
        'decimal_range',
        'key_mismatch',
        'malformed_json',
      ])
      // A send the ingest retried after an ambiguous failure (a produce timing out on a loaded
      // machine) can be in the topic twice (src/sources/pump.ts): tickflow stores such a trade
      // once and dead-letters the repeat, as Spark drops it. Repeats are allowed, but only of
      // trades stored, with the same price, size and time; nothing else is dead-lettered.
      const tfDead = await s.db.query<{ reason: string }>(
        "select reason from dead_letters where reason <> 'duplicate_trade_id' order by reason",
      )
      assert.deepEqual(
        tfDead.map((d) => d.reason),
        ['bad_price', 'key_mismatch', 'malformed_json'],
      )
      const [repeats] = await s.db.query<{ n: string; unmatched: string }>(
        `select count(*)::text as n,
                count(*) filter (where not exists (
                  select 1 from ticks t
                   where t.source = r.j->>'source' and t.trade_id = r.j->>'id' and t.symbol = r.j->>'symbol'
                     and t.price = (r.j->>'price')::numeric and t.size = (r.j->>'size')::numeric
                     and t.ts = (r.j->>'ts')::timestamptz))::text as unmatched
           from (select convert_from(payload, 'UTF8')::json as j from dead_letters
                  where reason = 'duplicate_trade_id') r`,
      )
      assert.equal(repeats!.unmatched, '0', `${repeats!.n} repeats, some not of a stored trade`)
      const [stored] = await s.db.query<{ n: string }>('select count(*)::text as n from ticks')
      assert.equal(stored!.n, '100001', 'every simulated trade once, and RANGE')
      const [range] = await s.db.query<{ n: string }>(
        "select count(*)::text as n from ticks where symbol = 'RANGE'",
      )
      assert.equal(range!.n, '1', 'tickflow stores the trade Spark cannot hold exactly')
    },
  )

  test('a replayed micro-batch changes nothing', { timeout: 600_000 }, async () => {
    const snapshot =
      "select md5(string_agg(t::text, ',' order by symbol, interval, bucket)) as h from spark_bars t"
    const [before] = await s.db.query<{ h: string }>(snapshot)
    const [batches] = await s.db.query<{ n: string }>(
      "select count(*)::text as n from spark_batches where query = 'spark_bars'",
    )
    // Without its commit file Spark runs the last batch again on restart, with the same batch id.
    const commits = join(s.dir, 'ckpt/spark_bars/commits')
    const last = readdirSync(commits)
      .filter((f) => /^\d+$/.test(f))
      .map(Number)
      .sort((a, b) => a - b)
      .at(-1)!
    // (and its checksum file, which Hadoop's local file system would refuse to overwrite)
    rmSync(join(commits, String(last)))
    rmSync(join(commits, `.${last}.crc`), { force: true })
    const out = await sparkBacklog(s.env, join(s.dir, 'ckpt'))
    assert.match(out, new RegExp(`batch ${last} of spark_bars was committed before: skipped`))
    const [afterRun] = await s.db.query<{ h: string }>(snapshot)
    assert.equal(afterRun!.h, before!.h, 'not one row rewritten (updated_at included)')
    const [batchesAfter] = await s.db.query<{ n: string }>(
      "select count(*)::text as n from spark_batches where query = 'spark_bars'",
    )
    assert.equal(batchesAfter!.n, batches!.n)
  })

  test(
    'the job SIGKILLed mid-run and restarted from its checkpoint: still exact, no duplicates',
    { timeout: 600_000 },
    async () => {
      await s.db.query('truncate spark_bars, spark_batches, spark_dead_letters')
      const checkpoint = join(s.dir, 'ckpt-kill')
      const job = startSparkJob(
        [
          '--trigger',
          '500ms',
          '--checkpoint',
          checkpoint,
          '--metrics-port',
          '0',
          '--max-offsets-per-trigger',
          '10000',
        ],
        s.env,
      )
      try {
        await waitFor(
          'two committed micro-batches',
          600_000,
          async () => {
            const [r] = await s.db.query<{ n: string }>(
              "select count(*)::text as n from spark_batches where query = 'spark_bars' and rows > 0",
            )
            return Number(r!.n) >= 2
          },
          job.output,
        )
      } finally {
        job.kill()
      }
      const killed = await job.exited
      assert.equal(killed.signal, 'SIGKILL')
      const [mid] = await s.db.query<{ n: string }>(
        "select coalesce(sum(trades), 0)::text as n from spark_bars where interval = '1d'",
      )
      assert.ok(Number(mid!.n) > 0 && Number(mid!.n) < 100_000, `killed mid-run (${mid!.n} trades in)`)
      await sparkBacklog(s.env, checkpoint, ['--max-offsets-per-trigger', '10000'])
      await assertAllEqual(s.db, "where symbol <> 'RANGE'")
      const [dupes] = await s.db.query<{ n: string }>(
        'select count(*)::text as n from (select 1 from spark_bars group by symbol, interval, bucket having count(*) > 1) d',
      )
      assert.equal(dupes!.n, '0')
      const [daily] = await s.db.query<{ n: string }>(
        "select sum(trades)::text as n from spark_bars where interval = '1d'",
      )
      assert.equal(daily!.n, '100000', 'every trade counted once')
      const [dead] = await s.db.query<{ n: string }>('select count(*)::text as n from spark_dead_letters')
      assert.equal(dead!.n, String(bad.length))
    },
  )
})

test(
  'Spark bars == tickflow bars == GROUP BY on the recorded Binance feed, sent as Avro through the registry',
  { timeout: 600_000 },
  async (t) => {
    const feed = dataFile('binance_usdm_btcusdt_20240808_rawfeed.gz')
    const trades = binanceFeedTrades(feed.path)
    const s = await services('binance')
    const registryDb = await createTestDatabase()
    const registry = await startRegistry(await freePort(), registryDb.url, join(s.dir, 'registry.log'))
    t.after(async () => {
      await registry.stop()
      await registryDb.drop()
      await s.db.close()
      await s.database.drop()
      rmSync(s.dir, { recursive: true, force: true })
    })
    const env: Record<string, string> = {
      ...s.env,
      SCHEMA_REGISTRY_URL: registry.url,
      TICKFLOW_WIRE_FORMAT: 'avro',
    }
    const replay = await runCli(['replay', feed.path, '--speed', '0'], env)
    assert.equal(replay.code, 0, replay.output)
    // The replay registered the trade schema; the same schema gets the same id back.
    const client = new SchemaRegistry({ url: registry.url })
    const id = await client.register(`${env.KAFKA_TOPIC!}-value`, tradeSchema())
    assert.deepEqual(await client.versions(`${env.KAFKA_TOPIC!}-value`), [1])
    // Avro-framed messages that are not trades: an id the registry never gave, a cut body.
    const trade = {
      v: 1 as const,
      type: 'trade' as const,
      symbol: 'BTCUSDT',
      ts: '2024-08-08T12:00:00Z',
      price: '1',
      size: '1',
      source: 'test',
      id: 'bad-1',
    }
    const bus = createKafkaBus({ brokers: testBrokers() })
    await bus.producer().send(env.KAFKA_TOPIC!, [
      { key: 'BTCUSDT', value: new AvroTradeEncoder(999_999, tradeSchema()).encode(trade) },
      { key: 'BTCUSDT', value: new AvroTradeEncoder(id, tradeSchema()).encode(trade).subarray(0, 12) },
    ])
    await bus.close()
    await processAll(s.db, env)
    await sparkBacklog(env, join(s.dir, 'ckpt'))
    await assertAllEqual(s.db)
    const [daily] = await s.db.query<{ n: string }>(
      "select sum(trades)::text as n from spark_bars where interval = '1d'",
    )
    assert.equal(daily!.n, String(trades.length))
    const reasons = async (table: string) =>
      (await s.db.query<{ reason: string }>(`select reason from ${table} order by reason`)).map(
        (r) => r.reason,
      )
    assert.deepEqual(await reasons('spark_dead_letters'), ['undecodable', 'unknown_schema'])
    assert.deepEqual(await reasons('dead_letters'), ['undecodable', 'unknown_schema'])
  },
)
