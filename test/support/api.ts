// A small real data set behind the API for the API tests: six trades and three dead letters in PostgreSQL, written
// by the store exactly as the processor writes them, and the app built on it.
import { writeBatch } from '../../src/processor/plan.ts'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { buildApp } from '../../src/api/app.ts'
import { LiveHub } from '../../src/api/live.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createTestDatabase } from './postgres.ts'

// Five AAPL trades in two minutes (one late, arriving last), two MSFT trades.
const trades = [
  ['AAPL', '2026-11-24T15:30:00.100000Z', '189.10', '100'],
  ['AAPL', '2026-11-24T15:30:30.000000Z', '189.50', '200'],
  ['MSFT', '2026-11-24T15:30:31.000000Z', '412.00', '10'],
  ['AAPL', '2026-11-24T15:31:05.250000Z', '188.90', '50'],
  ['MSFT', '2026-11-24T15:31:10.000000Z', '413.25', '30'],
  ['AAPL', '2026-11-24T15:29:59.900000Z', '189.00', '300'],
] as const

export async function setup(t: TestContext, open?: () => Promise<Db>) {
  let db: Db
  if (open) db = await open()
  else {
    const database = await createTestDatabase()
    t.after(() => database.drop())
    db = connectPostgres(database.url)
  }
  t.after(() => db.close())
  await migrate(db)
  const items: BatchItem[] = trades.map(([symbol, ts, price, size], i) => {
    const value = Buffer.from(
      encodeTrade({ v: 1, type: 'trade', symbol, ts, price, size, source: 'test', id: `t${i}` }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset: BigInt(i),
      key: symbol,
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok)
    return { topic: 'ticks', partition: 0, offset: BigInt(i), tick: c.tick }
  })
  const store = new TickStore(db)
  await writeBatch(store, 'g', items.slice(0, 5))
  await writeBatch(store, 'g', items.slice(5))
  // Three refused messages: bytes that are not UTF-8, a negative price, a bad symbol.
  const bad = [
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
    Buffer.from(
      encodeTrade({
        v: 1,
        type: 'trade',
        symbol: 'AAPL',
        ts: trades[0][1],
        price: '-1',
        size: '1',
        source: 'test',
        id: 'b1',
      }),
    ),
    Buffer.from(
      '{"v":1,"type":"trade","symbol":"a a","ts":"2026-11-24T15:30:00Z","price":"1","size":"1","source":"test"}',
    ),
  ]
  const dead: BatchItem[] = bad.map((value, i) => {
    const offset = BigInt(trades.length + i)
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset,
      key: 'AAPL',
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(!c.ok)
    return { topic: 'ticks', partition: 0, offset, dead: c.dead }
  })
  for (const d of dead) await writeBatch(store, 'g', [d])
  const hub = new LiveHub()
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db, hub })
  t.after(() => app.close())
  return { app, db, hub }
}
