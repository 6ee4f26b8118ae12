// Bars by the tape rules end to end: trades with sale conditions through the real broker, the
// processor and PostgreSQL, late ones included; the stored bars are checked value by value, and
// against the SQL oracle that applies the same rule table.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { encodeTrade, type Trade } from '../../src/domain/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli } from '../support/cli.ts'
import { waitCaughtUp } from '../support/scenario.ts'
import { checkBars } from '../support/bars.ts'

let n = 0
const trade = (
  source: string,
  symbol: string,
  ts: string,
  price: string,
  size: string,
  conditions: string[],
): Trade => ({
  v: 1,
  type: 'trade',
  symbol,
  ts: `2026-11-24T${ts}Z`,
  price,
  size,
  source,
  id: `c${++n}`,
  conditions,
})

// AAPL on tape C (UTP codes), IBM on tape A (CTA codes), BTCUSDT from a crypto source.
const first = [
  trade('alpaca', 'AAPL', '20:59:10', '189.10', '100', ['UTP:@']),
  trade('alpaca', 'AAPL', '20:59:20', '189.50', '40', ['UTP:I']), // odd lot: volume only
  trade('alpaca', 'AAPL', '20:59:30', '188.90', '200', ['UTP:F']), // intermarket sweep: every field
  trade('alpaca', 'AAPL', '20:59:59.5', '189.00', '300', ['UTP:6']), // closing prints: every field
  trade('alpaca', 'AAPL', '20:59:59.9', '190.00', '5000000', ['UTP:M']), // official close: nothing
  trade('alpaca', 'AAPL', '21:01:00', '190.00', '4000000', ['UTP:M']),
  trade('alpaca', 'AAPL', '21:01:30', '189.80', '25', ['UTP:I', 'UTP:T']), // odd lot, form T: volume
  trade('polygon', 'IBM', '20:59:00', '230.00', '100', ['CTA:@']),
  trade('polygon', 'IBM', '20:59:30', '229.00', '100', ['CTA:B']), // average price: volume only
  trade('polygon', 'IBM', '20:59:45', '231.00', '10', ['CTA:4']), // derivatively priced: not last
  trade('binance', 'BTCUSDT', '20:59:10', '90000.10', '0.50', ['UTP:M']), // crypto: every trade counts
  trade('binance', 'BTCUSDT', '20:59:20', '90001.00', '0.25', []),
]
// Late: an out-of-sequence print below the low (sets the low, not the open), then an earlier regular
// trade (the new open).
const late = [
  trade('alpaca', 'AAPL', '20:59:05', '188.50', '50', ['UTP:Z']),
  trade('alpaca', 'AAPL', '20:59:01', '189.05', '10', ['UTP:@']),
]

test('bars by the tape rules through Kafka and PostgreSQL, late trades included', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const topic = uniqueTopic('ticks-conditions')
  const group = `proc-${topic}`
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers, clientId: 'test-conditions' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 3 })
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
  }
  const producer = bus.producer()
  t.after(() => producer.close())
  const send = (ts: Trade[]) =>
    producer.send(
      topic,
      ts.map((x) => ({ key: x.symbol, value: encodeTrade(x) })),
    )

  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await send(first)
  await waitCaughtUp(brokers, db, group, topic, 120_000, proc.output)
  await send(late)
  await waitCaughtUp(brokers, db, group, topic, 120_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())

  const bars = await db.query<Record<string, string | null>>(
    `select symbol, to_char(bucket at time zone 'UTC', 'HH24:MI') as bucket, open::text, high::text, low::text,
            close::text, volume::text, pv::text, vwap::text, trades::text
     from bars where interval = '1m' order by symbol, bucket`,
  )
  const bar = (
    symbol: string,
    bucket: string,
    o: string | null,
    h: string | null,
    l: string | null,
    c: string | null,
    volume: string,
    pv: string,
    vwap: string | null,
    trades: string,
  ) => ({ symbol, bucket, open: o, high: h, low: l, close: c, volume, pv, vwap, trades })
  assert.deepEqual(bars, [
    // 100 + 40 + 200 + 300 + 50 + 10; the official close's 5,000,000 shares are not volume
    bar(
      'AAPL',
      '20:59',
      '189.05',
      '189.10',
      '188.50',
      '189.00',
      '700',
      '132285.50',
      '188.9792857142857143',
      '7',
    ),
    // only an official close and an odd lot: a volume, no prices
    bar('AAPL', '21:01', null, null, null, null, '25', '4745.00', '189.8000000000000000', '2'),
    bar(
      'BTCUSDT',
      '20:59',
      '90000.10',
      '90001.00',
      '90000.10',
      '90001.00',
      '0.75',
      '67500.3000',
      '90000.400000000000',
      '2',
    ),
    bar(
      'IBM',
      '20:59',
      '230.00',
      '231.00',
      '230.00',
      '230.00',
      '210',
      '48210.00',
      '229.5714285714285714',
      '3',
    ),
  ])
  const stored = await db.query<{ conditions: string[] | null }>(
    "select conditions from ticks where trade_id in ('c5', 'c7', 'c12') order by length(trade_id), trade_id",
  )
  assert.deepEqual(
    stored.map((r) => r.conditions),
    [['UTP:M'], ['UTP:I', 'UTP:T'], null],
  )
  // every interval of every symbol equals the SQL aggregate under the same rules
  assert.deepEqual(await checkBars(db), { bars: 28, missing: 0, extra: 0 })
})
