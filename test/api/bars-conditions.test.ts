// A bar whose trades may not set prices by their sale conditions (an official close, an odd lot) is
// served with null prices and its volume, in JSON and CSV, never as empty strings or zeros.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../../src/api/app.ts'
import { LiveHub } from '../../src/api/live.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { createTestDatabase } from '../support/postgres.ts'

test('a bar without price-setting trades is served with null prices and its volume', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const trades = [
    ['2026-11-24T21:01:00Z', '190.00', '4000000', ['UTP:M']],
    ['2026-11-24T21:01:30Z', '189.80', '25', ['UTP:I']],
  ] as const
  const items: BatchItem[] = trades.map(([ts, price, size, conditions], i) => {
    const value = Buffer.from(
      encodeTrade({
        v: 1,
        type: 'trade',
        symbol: 'AAPL',
        ts,
        price,
        size,
        source: 'alpaca',
        id: `t${i}`,
        conditions: [...conditions],
      }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset: BigInt(i),
      key: 'AAPL',
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok)
    return { topic: 'ticks', partition: 0, offset: BigInt(i), tick: c.tick }
  })
  await writeBatch(new TickStore(db), 'g', items)
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db, hub: new LiveHub() })
  t.after(() => app.close())

  const res = await app.inject('/api/v1/bars?symbol=AAPL&interval=1m')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json<{ data: unknown[] }>().data, [
    {
      symbol: 'AAPL',
      interval: '1m',
      bucket: '2026-11-24T21:01:00Z',
      open: null,
      high: null,
      low: null,
      close: null,
      volume: '25',
      vwap: '189.8000000000000000',
      trades: '2',
    },
  ])
})
