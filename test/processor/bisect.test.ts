// A batch the database refuses because of one message's content is split until that message is
// found: it becomes a dead letter (unstorable, with the refusal) and the rest of the batch is
// stored. Real PostgreSQL; a check constraint stands for any value the database refuses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createMemoryBus } from '../../src/bus/memory.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore, storedOffsets } from '../../src/store/ticks.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { startProcessor } from '../../src/processor/processor.ts'
import { isContentFailure, StepError } from '../../src/processor/failures.ts'
import { ServiceError } from '../../src/errors.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { checkBars } from '../support/bars.ts'

test('failures are told apart: content refusals are final, unreachable services are transient', () => {
  assert.equal(isContentFailure(Object.assign(new Error('no partition'), { code: '23514' })), true)
  assert.equal(isContentFailure(Object.assign(new Error('out of range'), { code: '22003' })), true)
  assert.equal(isContentFailure(Object.assign(new Error('shutdown'), { code: '57P01' })), false)
  assert.equal(isContentFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), false)
  const tooLarge = new ServiceError('kafka', 'MESSAGE_TOO_LARGE', { retryable: false })
  assert.equal(isContentFailure(new StepError('publishing dead letters', tooLarge)), true)
  assert.equal(isContentFailure(new ServiceError('kafka', 'broker down')), false)
})

test('one refused message in a batch of 2,000: it is dead-lettered as unstorable, the others are stored', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  await db.query('alter table ticks add constraint refuse_666 check (price <> 666)')
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 'ticks', partitions: 3 })
  const expected = new TradeChecksum()
  const trades = [
    ...simulate({
      symbols: ['BA', 'BB', 'BC'],
      rate: 1000,
      realtime: false,
      count: 2000,
      seed: 3,
      start: Date.parse('2026-11-24T14:30:00Z'),
    }),
  ]
  const poison = new Set([17, 1000, 1999])
  const messages = trades.map((tr, i) => {
    const trade = poison.has(i) ? { ...tr, price: '666' } : tr
    if (!poison.has(i)) expected.add(trade)
    return { key: trade.symbol, value: encodeTrade(trade) }
  })
  await bus.producer().send('ticks', messages)
  const warnings: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) })
  const processor = startProcessor({
    bus,
    store: new TickStore(db),
    topic: 'ticks',
    groupId: 'g',
    log,
    metrics: createMetrics({ defaultMetrics: false }),
  })
  t.after(() => processor.close())
  const end = await bus.endOffsets('ticks')
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    const stored = await storedOffsets(db, 'g', 'ticks')
    if ([...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)) break
    assert.ok(Date.now() < deadline, `not caught up: ${warnings.join('')}`)
  }
  assert.deepEqual(await tableChecksum(db), { count: expected.count, sum: expected.sum })
  const dead = await db.query<{ reason: string; detail: string; payload: Buffer }>(
    'select reason, detail, payload from dead_letters order by partition, "offset"',
  )
  assert.equal(dead.length, 3)
  for (const d of dead) {
    assert.equal(d.reason, 'unstorable')
    assert.match(d.detail, /^database write refused it: .*refuse_666/)
    assert.equal((JSON.parse(d.payload.toString()) as { price: string }).price, '666')
  }
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
  assert.ok(warnings.some((w) => w.includes('database write refused one message')))
})
