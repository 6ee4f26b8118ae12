// The topic's retention deletes messages the processor has not stored yet (it was stopped, or
// behind, for longer than the topic keeps messages). Seen before: a processor restarted after
// 1,000 of its 2,000 messages were stored, and 500 of the rest were deleted, stored the 500 left
// and said nothing at all: 500 trades gone without a line or a number. Now it says how many, of
// which partition and offsets, and counts them in tickflow_messages_missed_total; what the topic
// still held is stored exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { pino } from 'pino'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { startProcessor } from '../../src/processor/processor.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore, storedOffsets } from '../../src/store/ticks.ts'
import { simulate } from '../../src/sources/simulator.ts'
import type { Trade } from '../../src/domain/trade.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'

const trades = (symbols: string[], seed: number): Trade[] => [
  ...simulate({
    symbols,
    rate: 1000,
    realtime: false,
    count: 1000,
    seed,
    start: Date.parse('2026-11-24T14:30:00Z'),
  }),
]

async function storedUpTo(db: Db, topic: string, offset: bigint, what: () => string): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    if (((await storedOffsets(db, 'g', topic)).get(0) ?? 0n) >= offset) return
    assert.ok(Date.now() < deadline, `offset ${offset} not stored: ${what()}`)
  }
}

test('messages deleted by retention before they were stored are reported and counted; the rest are stored exactly', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const topic = uniqueTopic('retention')
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 1 })
  const send = (ts: Trade[]) =>
    bus.producer().send(
      topic,
      ts.map((tr) => ({ key: tr.symbol, value: encodeTrade(tr) })),
    )
  const lines: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
  const run = (metrics = createMetrics({ defaultMetrics: false })) => ({
    metrics,
    processor: startProcessor({ bus, store: new TickStore(db), topic, groupId: 'g', log, metrics }),
  })

  const first = trades(['RA', 'RB'], 5)
  await send(first)
  const before = run()
  await storedUpTo(db, topic, 1000n, () => lines.join(''))
  await before.processor.close()

  // While no processor runs, 1,000 more arrive and retention deletes up to offset 1,500.
  const second = trades(['RC', 'RD'], 6)
  await send(second)
  const admin = new Admin({ clientId: 'retention-test', bootstrapBrokers: testBrokers() })
  t.after(() => admin.close())
  await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 1500n }] }] })

  const after = run()
  t.after(() => after.processor.close())
  await storedUpTo(db, topic, 2000n, () => lines.join(''))
  const expected = new TradeChecksum()
  for (const tr of [...first, ...second.slice(500)]) expected.add(tr)
  assert.deepEqual(await tableChecksum(db), { count: expected.count, sum: expected.sum })
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '0')

  for (const deadline = Date.now() + 10_000; !lines.some((l) => l.includes('retention')); await sleep(50))
    assert.ok(Date.now() < deadline, `no warning of the deleted messages: ${lines.join('')}`)
  const warned = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.lost !== undefined)
  assert.deepEqual(
    warned.map((l) => [l.msg, l.partition, l.from, l.to, l.lost]),
    [
      [
        `500 messages of ${topic} partition 0 (offsets 1000 to 1499) were deleted by the topic's retention before they were stored: the processor was stopped or behind for longer than the topic keeps messages`,
        0,
        '1000',
        '1500',
        500,
      ],
    ],
  )
  const missed = await after.metrics.messagesMissed.get()
  assert.deepEqual(
    missed.values.map((v) => [v.labels, v.value]),
    [[{ topic, partition: '0' }, 500]],
  )
})
