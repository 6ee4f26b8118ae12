// Stream processing on the real broker and database: a run mixing valid trades with every kind of
// bad input, out-of-order and late trades, and SIGKILLs of the processor, ends with every invalid
// message dead-lettered with the right reason (table and topic), ticks holding exactly the valid
// ones, and bars equal to the GROUP BY over ticks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import type { BusMessage, OutMessage } from '../../src/bus/types.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { storedOffsets } from '../../src/store/ticks.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { encodeTrade, type Trade } from '../../src/domain/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { waitFor } from '../support/wait.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { checkBars } from '../support/bars.ts'
import { startCli, type CliProcess } from '../support/cli.ts'

const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'BRK.B', 'JPM', 'V']

/** Bad messages with the reason each must be dead-lettered for. */
function badMessages(now: number, valid: Trade): { msg: OutMessage; reason: string }[] {
  const ts = new Date(now - 60_000).toISOString()
  const base = { v: 1, type: 'trade', symbol: 'AAPL', ts, price: '189.23', size: '100', source: 'test' }
  const json = (o: object, key = 'AAPL'): OutMessage => ({ key, value: JSON.stringify(o) })
  return [
    { msg: { key: 'AAPL', value: '{"v":1,"type":"trade",' }, reason: 'malformed_json' },
    { msg: { key: 'AAPL', value: 'not json at all' }, reason: 'malformed_json' },
    {
      msg: { key: 'AAPL', value: Buffer.from([0xff, 0x00, 0x13, 0x37, 0xc3, 0x28]) },
      reason: 'malformed_json',
    },
    { msg: json({ ...base, price: 189.23 }), reason: 'schema' },
    { msg: json({ ...base, size: 100 }), reason: 'schema' },
    { msg: json({ ...base, ts: 1795552000000 }), reason: 'schema' },
    { msg: json({ v: 1, type: 'trade', ts, price: '1', size: '1', source: 'test' }), reason: 'schema' },
    { msg: json([1, 2, 3]), reason: 'schema' },
    { msg: json({ ...base, v: 2 }), reason: 'unsupported_version' },
    { msg: json({ ...base, price: '-1.00' }), reason: 'bad_price' },
    { msg: json({ ...base, price: 'NaN' }), reason: 'bad_price' },
    { msg: json({ ...base, price: 'Infinity' }), reason: 'bad_price' },
    { msg: json({ ...base, price: '1e20' }), reason: 'bad_price' },
    { msg: json({ ...base, price: '1234567890123.5' }), reason: 'bad_price' },
    { msg: json({ ...base, price: '0.00' }), reason: 'bad_price' },
    { msg: json({ ...base, size: '-5' }), reason: 'bad_size' },
    { msg: json({ ...base, symbol: 'aapl' }, 'aapl'), reason: 'bad_symbol' },
    { msg: json({ ...base, symbol: "AAPL'; drop table ticks;--" }, 'X'), reason: 'bad_symbol' },
    { msg: json({ ...base, symbol: '' }, ''), reason: 'bad_symbol' },
    { msg: json({ ...base, symbol: 'MSFT' }, 'AAPL'), reason: 'key_mismatch' },
    { msg: json({ ...base, ts: '2026-02-30T10:00:00Z' }), reason: 'bad_timestamp' },
    { msg: json({ ...base, ts: 'yesterday' }), reason: 'bad_timestamp' },
    { msg: json({ ...base, ts: '2020-01-02T10:00:00.000000Z' }), reason: 'timestamp_skew' },
    { msg: json({ ...base, ts: new Date(now + 7_200_000).toISOString() }), reason: 'timestamp_skew' },
    // The same trade again: same source and id as one already sent.
    { msg: { key: valid.symbol, value: encodeTrade(valid) }, reason: 'duplicate_trade_id' },
  ]
}

test('bad input is dead-lettered with its reason, ticks hold exactly the valid trades, bars stay exact across SIGKILLs', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('quality')
  const dlqTopic = `${topic}.dlq`
  const group = `g-${topic}`
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers, clientId: 'test-quality' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 4 })
  const db = connectPostgres(database.url)
  t.after(() => db.close())

  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlqTopic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
    TICKFLOW_MAX_SKEW: '1h',
  }
  let proc: CliProcess = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))

  const now = Date.now()
  // 30,000 valid trades over the last 20 minutes, sent in 10 rounds; each round's order is shuffled
  // (out of order), and the last round holds trades from 15 minutes earlier (late).
  const valid = [
    ...simulate({
      symbols: SYMBOLS,
      rate: 25,
      realtime: false,
      count: 30_000,
      seed: 3,
      start: now - 20 * 60_000,
    }),
  ]
  const expected = new TradeChecksum()
  for (const v of valid) expected.add(v)
  const late = valid.splice(3000, 3000)
  const rounds: Trade[][] = []
  for (let i = 0; i < 9; i++) rounds.push(valid.slice(i * 3000, (i + 1) * 3000))
  rounds.push(late)
  const bad = badMessages(now, valid[0]!)
  const producer = bus.producer()
  const expectedDead: string[] = []
  let kills = 0
  for (const [i, round] of rounds.entries()) {
    const shuffled = round
      .map((x) => ({ x, k: Math.random() }))
      .sort((a, b) => a.k - b.k)
      .map((p) => p.x)
    const msgs: OutMessage[] = shuffled.map((x) => ({ key: x.symbol, value: encodeTrade(x) }))
    // Sprinkle the bad messages over the rounds, and all of them again into the last one: a second
    // copy of a bad message is still dead-lettered (invalid input is not deduplicated), and the
    // duplicate trade is a duplicate both times.
    for (const [j, b] of bad.entries()) {
      if (j % rounds.length === i || i === rounds.length - 1) {
        msgs.splice(Math.floor(Math.random() * msgs.length), 0, b.msg)
        expectedDead.push(b.reason)
      }
    }
    await producer.send(topic, msgs)
    // Pacing, not a wait for a state: the kills below fall at varied moments of the stream.
    await sleep(200 + Math.random() * 400)
    if (i % 3 === 1) {
      proc.child.kill('SIGKILL')
      await proc.exited
      kills++
      proc = startCli(['process'], env)
    }
  }
  expectedDead.sort()

  const end = await bus.endOffsets(topic)
  await waitFor(
    async () => {
      const stored = await storedOffsets(db, group, topic).catch(() => new Map<number, bigint>())
      return [...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)
    },
    120_000,
    () => `the processor to catch up: ${proc.output()}`,
    250,
  )
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  assert.equal(kills, 3)

  // in = stored + dead-lettered, exactly.
  const total = [...end.values()].reduce((a, b) => a + b, 0n)
  const got = await tableChecksum(db)
  const deadRows = await db.query<{ reason: string; payload: Buffer; offset: string; partition: number }>(
    'select reason, payload, "offset"::text as offset, partition from dead_letters order by reason',
  )
  assert.equal(BigInt(got.count + deadRows.length), total)
  assert.equal(got.count, 30_000)
  assert.equal(got.sum, expected.sum)
  assert.deepEqual(deadRows.map((r) => r.reason).sort(), expectedDead)
  // Dead letters keep the original bytes.
  const sentBytes = new Set(bad.map((b) => Buffer.from(b.msg.value).toString('base64')))
  for (const r of deadRows)
    assert.ok(sentBytes.has(r.payload.toString('base64')), `payload of ${r.reason} altered`)

  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
  const [daily] = await db.query<{ trades: string }>(
    "select sum(trades)::text as trades from bars where interval = '1m'",
  )
  assert.equal(daily!.trades, '30000')

  // The DLQ topic holds every dead letter (at least once: a crash between produce and commit can
  // repeat one), with its reason and origin in headers.
  const seen = new Map<string, BusMessage>()
  const consumer = bus.consumer({ groupId: `check-${dlqTopic}`, topics: [dlqTopic] })
  const want = new Set(deadRows.map((r) => `${r.partition}:${r.offset}`))
  const reading = consumer.run((batch) => {
    for (const m of batch) seen.set(`${m.headers['source-partition']}:${m.headers['source-offset']}`, m)
    if ([...want].every((k) => seen.has(k))) void consumer.close()
    return Promise.resolve()
  })
  await Promise.race([reading, sleep(30_000, undefined, { ref: false }).then(() => consumer.close())])
  assert.deepEqual([...seen.keys()].sort(), [...want].sort())
  for (const r of deadRows) {
    const m = seen.get(`${r.partition}:${r.offset}`)!
    assert.equal(m.headers.reason, r.reason)
    assert.equal(m.headers['source-topic'], topic)
    assert.deepEqual(m.value, r.payload)
  }
})
