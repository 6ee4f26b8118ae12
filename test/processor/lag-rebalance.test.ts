// tickflow_consumer_lag_seconds after a rebalance: a partition that moved to another consumer of
// the group no longer counts in this consumer's lag age. Before the fix the consumer kept the
// partition's last stored timestamp and, as soon as the partition lagged at all, reported that
// message's age (an hour here) although the consumer now holding the partition was keeping up.
// Real PostgreSQL; the in-process bus, with the group's partition assignment played by the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { createMemoryBus } from '../../src/bus/memory.ts'
import type { Bus, OutMessage } from '../../src/bus/types.ts'
import type { Db } from '../../src/store/db.ts'
import { TickStore, storedOffsets } from '../../src/store/ticks.ts'
import { createMetrics, type Metrics } from '../../src/metrics/registry.ts'
import { startProcessor } from '../../src/processor/processor.ts'
import { encodeTrade, isoMicros } from '../../src/domain/trade.ts'
import { openTestStore } from '../support/stores.ts'
import { waitFor } from '../support/wait.ts'

const HOUR_MS = 3_600_000
// The in-process bus partitions by key (FNV-1a): of two partitions, MOVED's is 0 and KEPT's is 1.
const MOVED = 'MOVED'
const KEPT = 'KEPT'

/**
 * The topic as one member of the group sees it, which the in-process bus cannot say by itself:
 * the member's consumer reads the topic under a bus group of its own and is handed only the
 * partitions `holds` lists at the time (the test moves them). The offsets that count are the
 * store's, shared by the group; end offsets are the topic's.
 */
function member(bus: Bus, name: string, holds: Set<number>): Bus {
  return {
    ...bus,
    consumer(options) {
      const consumer = bus.consumer({ ...options, groupId: `${options.groupId}/${name}` })
      return {
        run: (handler) =>
          consumer.run(async (batch) => {
            const mine = batch.filter((m) => holds.has(m.partition))
            if (mine.length > 0) await handler(mine)
          }),
        close: () => consumer.close(),
      }
    },
  }
}

/** `count` trades of `symbol` numbered from `from`, their event times at `atMs`. */
function trades(symbol: string, from: number, count: number, atMs: number): OutMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    key: symbol,
    value: encodeTrade({
      v: 1,
      type: 'trade',
      symbol,
      ts: isoMicros(atMs + from + i),
      price: String(100 + from + i),
      size: '1',
      source: 'test',
    }),
  }))
}

/** The group's stored offsets as `partition:next …`, in partition order. */
async function offsets(db: Db): Promise<string> {
  const stored = await storedOffsets(db, 'g', 'ticks')
  return [...stored]
    .sort(([p], [q]) => p - q)
    .map(([p, o]) => `${p}:${o}`)
    .join(' ')
}

/** The gauge's value of the series with these labels (undefined = no such series). */
async function value(
  gauge: Metrics['consumerLag'] | Metrics['consumerLagSeconds'],
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const { values } = await gauge.get()
  return values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  )?.value
}

test('lag seconds forgets a partition another consumer of the group stored past this one', async (t) => {
  const db = await openTestStore('postgres', t)
  const store = new TickStore(db)
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 'ticks', partitions: 2 })
  const producer = bus.producer()
  const log = pino({ level: 'silent' })

  // Partition 0's first five trades were appended an hour ago (the bus stamps a message with
  // Date.now() as it appends it), partition 1's five just now.
  const anHourAgo = Date.now() - HOUR_MS
  t.mock.timers.enable({ apis: ['Date'], now: anHourAgo })
  await producer.send('ticks', trades(MOVED, 0, 5, anHourAgo))
  t.mock.timers.reset()
  const keptAt = Date.now()
  await producer.send('ticks', trades(KEPT, 0, 5, keptAt))
  const keptSent = Date.now()
  assert.deepEqual(
    await bus.endOffsets('ticks'),
    new Map([
      [0, 5n],
      [1, 5n],
    ]),
  )

  // A holds both partitions and stores all ten trades.
  const holdsA = new Set([0, 1])
  const metricsA = createMetrics({ defaultMetrics: false })
  const a = startProcessor({
    bus: member(bus, 'A', holdsA),
    store,
    topic: 'ticks',
    groupId: 'g',
    log,
    metrics: metricsA,
  })
  t.after(() => a.close())
  let seen = ''
  await waitFor(
    async () => (seen = await offsets(db)) === '0:5 1:5',
    30_000,
    () => `A to store partitions 0 and 1 up to offset 4 (stored: ${seen})`,
  )

  // The rebalance: partition 0 moves to B, which stores the next five trades of it.
  holdsA.delete(0)
  const b = startProcessor({
    bus: member(bus, 'B', new Set([0])),
    store,
    topic: 'ticks',
    groupId: 'g',
    log,
    metrics: createMetrics({ defaultMetrics: false }),
  })
  t.after(() => b.close())
  await producer.send('ticks', trades(MOVED, 5, 5, Date.now()))
  await waitFor(
    async () => (seen = await offsets(db)) === '0:10 1:5',
    30_000,
    () => `B to store partition 0 up to offset 9 (stored: ${seen})`,
  )

  // One more trade on partition 0, not stored yet (B stops so the moment holds still): the topic
  // lags by one message, appended just now.
  await b.close()
  const lastSent = Date.now()
  await producer.send('ticks', trades(MOVED, 10, 1, lastSent))
  assert.deepEqual(
    await bus.endOffsets('ticks'),
    new Map([
      [0, 11n],
      [1, 5n],
    ]),
  )
  assert.equal(await offsets(db), '0:10 1:5')

  // A refreshes its lag gauges every second: once it has seen the new message, its lag age is
  // that of the partition it still holds (stored from keptAt on), not the hour of the one it lost.
  await waitFor(
    async () => (await value(metricsA.consumerLag, { topic: 'ticks', partition: '0' })) === 1,
    10_000,
    'A to see partition 0 lag by one message',
  )
  const lagSeconds = await value(metricsA.consumerLagSeconds)
  const sinceKept = (Date.now() - keptAt) / 1000
  assert.equal(await value(metricsA.consumerLag, { topic: 'ticks', partition: '1' }), 0)
  // At least as old as partition 1's trades were when the last trade was sent: a fix that forgot
  // every partition, or reported 0, fails here.
  const atLeast = (lastSent - keptSent) / 1000
  assert.ok(
    lagSeconds !== undefined && lagSeconds >= atLeast && lagSeconds <= sinceKept,
    `A reports tickflow_consumer_lag_seconds ${lagSeconds}; between ${atLeast} and ${sinceKept} expected (partition 1's trades were appended that long ago)`,
  )
})
