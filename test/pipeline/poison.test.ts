// Poison messages on the real broker: a dead letter too large for the DLQ topic, and thousands of
// dead letters in one batch, must not stop a partition. Valid trades on every partition keep being
// stored while the bad messages sit in the topic, and each bad one is in dead_letters (with its
// reason) and in the DLQ topic.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createKafkaBus, keyPartition } from '../../src/bus/kafka.ts'
import type { BusMessage, OutMessage } from '../../src/bus/types.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { DEAD_LETTER_PAYLOAD_CAP } from '../../src/store/ticks.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli } from '../support/cli.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { checkBars } from '../support/bars.ts'
import { waitCaughtUp } from '../support/scenario.ts'

const PARTITIONS = 3
const SYMBOLS = ['PA', 'PB', 'PC', 'PD', 'PE', 'PF', 'PG', 'PH', 'PI']

function trades(count: number, seed: number, expected: TradeChecksum, perPartition: number[]): OutMessage[] {
  return [
    ...simulate({
      symbols: SYMBOLS,
      rate: 1000,
      realtime: false,
      count,
      seed,
      start: Date.parse('2026-11-24T14:30:00Z') + seed * 3_600_000,
    }),
  ].map((t) => {
    expected.add(t)
    perPartition[keyPartition(Buffer.from(t.symbol), PARTITIONS)]!++
    return { key: t.symbol, value: encodeTrade(t) }
  })
}

interface Setup {
  group: string
  brokers: string[]
  topic: string
  dlq: string
  db: Db
  env: Record<string, string>
  send(messages: OutMessage[]): Promise<void>
}

async function setup(t: TestContext, name: string): Promise<Setup> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const brokers = testBrokers()
  const topic = uniqueTopic(name)
  const dlq = `${topic}.dlq`
  const bus = createKafkaBus({ brokers })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: PARTITIONS })
  // Every symbol's partition holds trades: the check below covers every partition.
  assert.equal(new Set(SYMBOLS.map((s) => keyPartition(Buffer.from(s), PARTITIONS))).size, PARTITIONS)
  const producer = bus.producer()
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlq,
    KAFKA_GROUP_ID: name,
    DATABASE_URL: database.url,
  }
  return { group: name, brokers, topic, dlq, db, env, send: (m) => producer.send(topic, m) }
}

/** Reads `n` messages of a topic from the start (fails after the timeout). */
async function readTopic(brokers: string[], topic: string, n: number): Promise<BusMessage[]> {
  const bus = createKafkaBus({ brokers })
  const consumer = bus.consumer({ groupId: uniqueTopic('reader'), topics: [topic] })
  const got: BusMessage[] = []
  const timer = setTimeout(() => void consumer.close(), 60_000)
  await consumer.run((batch) => {
    got.push(...batch)
    if (got.length >= n) void consumer.close()
    return Promise.resolve()
  })
  clearTimeout(timer)
  await bus.close()
  return got
}

async function assertStored(db: Db, expected: TradeChecksum, perPartition: number[]): Promise<void> {
  const got = await tableChecksum(db)
  assert.deepEqual(got, { count: expected.count, sum: expected.sum })
  const rows = await db.query<{ p: number; n: string }>(
    'select kafka_partition as p, count(*)::text as n from ticks group by 1 order by 1',
  )
  assert.deepEqual(
    rows.map((r) => [r.p, Number(r.n)]),
    perPartition.map((n, p) => [p, n]),
  )
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
}

test('a junk message as large as the topic allows is dead-lettered (cut to fit the DLQ) and no partition stalls', async (t) => {
  const s = await setup(t, 'poison-big')
  const expected = new TradeChecksum()
  const perPartition = Array.from({ length: PARTITIONS }, () => 0)
  await s.send(trades(3000, 1, expected, perPartition))
  const junk = randomBytes(1_048_400)
  junk[0] = 0x7e // not the Avro magic byte: this junk is not JSON, whatever else it is
  await s.send([{ key: 'PA', value: junk }])
  const proc = startCli(['process'], s.env)
  t.after(() => void proc.child.kill('SIGKILL'))
  // Trades produced while the junk is in the topic are stored too, on every partition.
  await s.send(trades(3000, 2, expected, perPartition))
  await waitCaughtUp(s.brokers, s.db, s.group, s.topic, 90_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  assert.doesNotMatch(proc.output(), /database write failed/)
  await assertStored(s.db, expected, perPartition)

  const sha256 = createHash('sha256').update(junk).digest('hex')
  const dead = await s.db.query<{ reason: string; detail: string; bytes: number; head: Buffer }>(
    'select reason, detail, length(payload) as bytes, substr(payload, 1, 64) as head from dead_letters',
  )
  assert.equal(dead.length, 1)
  assert.equal(dead[0]!.reason, 'malformed_json')
  assert.equal(dead[0]!.bytes, DEAD_LETTER_PAYLOAD_CAP)
  assert.ok(dead[0]!.head.equals(junk.subarray(0, 64)))
  assert.match(dead[0]!.detail, new RegExp(`${DEAD_LETTER_PAYLOAD_CAP} of 1048400 bytes; sha256 ${sha256}`))

  const [published] = await readTopic(s.brokers, s.dlq, 1)
  assert.equal(published!.headers.reason, 'malformed_json')
  assert.equal(published!.headers.truncated, 'true')
  assert.equal(published!.headers['original-size'], '1048400')
  assert.equal(published!.headers.sha256, sha256)
  assert.ok(published!.value.length > 1_000_000 && published!.value.length < 1_048_400)
  assert.ok(published!.value.equals(junk.subarray(0, published!.value.length)))
})

test('4,000 junk messages in one batch after a backlog: dead letters published in requests that fit, nothing stalls', async (t) => {
  const s = await setup(t, 'poison-many')
  const expected = new TradeChecksum()
  const perPartition = Array.from({ length: PARTITIONS }, () => 0)
  await s.send(trades(2000, 3, expected, perPartition))
  const junk = Array.from({ length: 4000 }, (_, i) => ({
    key: SYMBOLS[i % SYMBOLS.length]!,
    value: `${String(i).padStart(6, '0')}${randomBytes(197).toString('hex')}`.slice(0, 400),
  }))
  for (let i = 0; i < junk.length; i += 500) await s.send(junk.slice(i, i + 500))
  await s.send(trades(2000, 4, expected, perPartition))
  // The processor starts on the backlog, so the junk arrives in full batches.
  const proc = startCli(['process'], s.env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await waitCaughtUp(s.brokers, s.db, s.group, s.topic, 90_000, proc.output)
  await s.send(trades(1000, 5, expected, perPartition))
  await waitCaughtUp(s.brokers, s.db, s.group, s.topic, 60_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertStored(s.db, expected, perPartition)

  const reasons = await s.db.query<{ reason: string; n: string; bytes: string }>(
    'select reason, count(*)::text as n, sum(length(payload))::text as bytes from dead_letters group by 1',
  )
  assert.deepEqual(reasons, [{ reason: 'malformed_json', n: '4000', bytes: String(4000 * 400) }])
  const published = await readTopic(s.brokers, s.dlq, 4000)
  assert.equal(published.length, 4000)
  assert.equal(new Set(published.map((m) => m.value.toString())).size, 4000)
  assert.ok(
    published.every((m) => m.headers.reason === 'malformed_json' && m.headers.truncated === undefined),
  )
})
