// What the processor does with a batch after it is committed (the end-to-end latency histogram,
// the late-trade counts, the live tail) runs a slice of trades at a time while the next batch is
// written. Done in slices, it still counts every stored trade once, judges lateness in offset order
// across slices and batches, hands the live tail every batch in commit order, and is finished
// when close() returns. Real PostgreSQL.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createMemoryBus } from '../../src/bus/memory.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { startProcessor } from '../../src/processor/processor.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { openTestStore } from '../support/stores.ts'

const T0 = Date.parse('2026-11-24T14:30:00Z')

test('a committed batch is counted once in slices: every trade, late trades in order, the live tail in commit order, done by close()', async (t) => {
  const db = await openTestStore('postgres', t)
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 'ticks', partitions: 1 })
  // 11,997 on-time trades of LA, one every 100 ms (its watermark ends 5 s behind its last one),
  // then 7 from 20 s after the start: their 1s, 1m and 5m bars ended before the watermark, their
  // 1h and 1d bars did not. They come last, in the third batch of 5,000, across its first two
  // slices of 2,000 (offsets 11,997 to 12,003).
  const ONTIME = 11_997
  const LATE = 7
  const trade = (i: number, ms: number) =>
    encodeTrade({
      v: 1,
      type: 'trade',
      symbol: 'LA',
      ts: new Date(ms).toISOString(),
      price: '10.25',
      size: '3',
      id: `t${i}`,
      source: 'replay',
      recvTs: new Date(T0).toISOString(),
    })
  const messages = [
    ...Array.from({ length: ONTIME }, (_, i) => trade(i, T0 + i * 100)),
    ...Array.from({ length: LATE }, (_, i) => trade(ONTIME + i, T0 + 20_000 + i)),
  ].map((value) => ({ key: 'LA', value }))
  await bus.producer().send('ticks', messages)

  // The processor is closed the moment its third and last batch is committed, before that
  // batch's bookkeeping has begun.
  let commits = 0
  let closing: Promise<void> | undefined
  class ClosingStore extends TickStore {
    override async commit(...args: Parameters<TickStore['commit']>) {
      const result = await super.commit(...args)
      if (++commits === 3) closing = processor.close()
      return result
    }
  }
  const metrics = createMetrics({ defaultMetrics: false })
  const tail: number[] = []
  const processor = startProcessor({
    bus,
    store: new ClosingStore(db),
    topic: 'ticks',
    groupId: 'g',
    log: pino({ level: 'silent' }),
    metrics,
    maxBatch: 5000,
    allowedLatenessMs: 5000,
    onCommitted: (r) => void tail.push(...r.stored.map((s) => Number(s.tradeId!.slice(1)))),
  })
  t.after(() => processor.close())
  for (const deadline = Date.now() + 60_000; !closing; await sleep(20))
    assert.ok(Date.now() < deadline, 'the processor did not store every batch')
  await closing
  // Everything below was done by the time close() returned.
  const total = ONTIME + LATE
  assert.deepEqual(
    tail,
    Array.from({ length: total }, (_, i) => i),
    'the live tail got every trade once, in order',
  )
  const values = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values
  const count = (await values('tickflow_end_to_end_latency_seconds')).find((v) =>
    (v as { metricName?: string }).metricName?.endsWith('_count'),
  )
  assert.equal(count?.value, total)
  const late = Object.fromEntries(
    (await values('tickflow_late_trades_total')).map((v) => [String(v.labels.interval), v.value]),
  )
  assert.deepEqual(late, { '1s': LATE, '1m': LATE, '5m': LATE })
  const [row] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
  assert.equal(row!.n, String(total))
})
