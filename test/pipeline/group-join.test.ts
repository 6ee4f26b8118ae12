// A processor joining and leaving the group again and again (as `tickflow up` does when it shares
// the processors' group) makes the others rebalance and re-fetch from the committed offsets while
// they still hold later messages. No message may then be handled twice: never a trade stored and
// dead-lettered as a duplicate of itself, never a trade without an id stored twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import type { OutMessage } from '../../src/bus/types.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { startProcessor, type Processor } from '../../src/processor/processor.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { waitGroupMembers } from '../support/wait.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { waitCaughtUp } from '../support/scenario.ts'

const JOINS = 25
const TRADES = 60_000

test(`${JOINS} group joins while a processor follows a live stream: every trade once, none also a dead letter`, async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const brokers = testBrokers()
  const topic = uniqueTopic('join')
  const group = `proc-${topic}`
  const bus = createKafkaBus({ brokers, clientId: 'test-join' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 4 })

  // Half the trades carry a provider id, half none (as sources without trade ids send them).
  const expected = new TradeChecksum()
  const messages: OutMessage[] = [
    ...simulate({
      symbols: ['JA', 'JB', 'JC', 'JD', 'JE', 'JF', 'JG', 'JH'],
      rate: 5000,
      realtime: false,
      count: TRADES,
      seed: 5,
      start: Date.parse('2026-11-24T14:30:00Z'),
    }),
  ].map((trade, i) => {
    expected.add(trade)
    return { key: trade.symbol, value: encodeTrade(i % 2 === 0 ? trade : { ...trade, id: undefined }) }
  })
  const producer = bus.producer()
  const buses: ReturnType<typeof createKafkaBus>[] = []
  t.after(() => Promise.all(buses.map((b) => b.close())))
  const start = (clientId: string): Processor =>
    startProcessor({
      bus: buses[buses.push(createKafkaBus({ brokers, clientId })) - 1]!,
      store: new TickStore(db),
      topic,
      groupId: group,
      log: pino({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
    })
  // A live stream (as `tickflow up` sees it): the processor is nearly caught up, so the messages it
  // holds and the ones re-fetched after a rebalance land in the same batch.
  const first = start('join-a')
  t.after(() => first.close())
  let produced = 0
  const producing = (async () => {
    for (; produced < TRADES; produced += 60) {
      await producer.send(topic, messages.slice(produced, produced + 60))
      await sleep(15)
    }
  })()
  for (let j = 0; j < JOINS; j++) {
    const joiner = start(`join-b${j}`)
    await waitGroupMembers(brokers, group, topic, 2, 60_000)
    // Held for a varied while (not a wait for a state), so the joiner leaves at different moments.
    await sleep((j % 5) * 150)
    await joiner.close()
  }
  await producing
  await waitCaughtUp(brokers, db, group, topic, 120_000, () => 'processor did not catch up')
  await first.close()

  const [both] = await db.query<{ n: string }>(
    `select count(*)::text as n from ticks t join dead_letters d
       on d.topic = $1 and d.partition = t.kafka_partition and d."offset" = t.ingest_seq`,
    [topic],
  )
  assert.equal(both!.n, '0', 'offsets stored as a tick and as a dead letter')
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '0')
  const [twice] = await db.query<{ n: string }>(
    'select (count(*) - count(distinct (kafka_partition, ingest_seq)))::text as n from ticks',
  )
  assert.equal(twice!.n, '0', 'offsets stored twice')
  const [noId] = await db.query<{ n: string }>('select count(*)::text as n from ticks where trade_id is null')
  assert.equal(noId!.n, String(TRADES / 2))
  assert.deepEqual(await tableChecksum(db), { count: expected.count, sum: expected.sum })
})
