// What the alert rules read is kept between batches: a processor reads a symbol's window of trades
// and its bar series from the store once, not on every batch, and fires exactly what a processor
// that reads everything on every batch fires (and the brute-force oracle). A batch rolled back after
// it was evaluated leaves the cache unused: the batch written again fires the same.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres, type Db, type Queryable } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { createRule } from '../../src/store/alerts.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import type { AlertRule } from '../../src/domain/alerts.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'
import { oracleFirings, oracleTradesOf } from '../support/alerts-oracle.ts'

/** The statements sent to PostgreSQL inside transactions, as text. */
function counting(db: Db): { db: Db; sent: string[] } {
  const sent: string[] = []
  const wrap = (tx: Queryable): Queryable => ({
    ...tx,
    query: (sql, params) => (sent.push(sql), tx.query(sql, params)),
  })
  const counted: Db = Object.create(db) as Db
  counted.transaction = (fn) => db.transaction((tx) => fn(wrap(tx)))
  return { db: counted, sent }
}

const readsTicks = (sql: string): boolean => /\bfrom ticks\b/.test(sql)
const readsSeries = (sql: string): boolean => /\bjoin bars b\b/.test(sql)

/** Seeded: 3 symbols, a random walk in cents, one trade in ten up to 6 s late. */
function stream(n: number): BatchItem[] {
  let s = 5
  const rnd = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  const price = new Map<string, number>()
  const base = Date.UTC(2026, 10, 24, 15)
  return Array.from({ length: n }, (_, i) => {
    const symbol = `C${Math.floor(rnd() * 3)}`
    const p = Math.max(9000, (price.get(symbol) ?? 10_000) + Math.round((rnd() - 0.5) * 50))
    price.set(symbol, p)
    const late = rnd() < 0.1 ? Math.floor(rnd() * 6000) : 0
    const ts = new Date(base + i * 150 - late).toISOString()
    return tradeItem(i, { symbol, ts, price: (p / 100).toFixed(2), size: String(1 + (i % 7)), id: `c${i}` })
  })
}

const RULES: Omit<AlertRule, 'id'>[] = [
  { kind: 'percent_move', params: { percent: '0.3', windowSeconds: 5 }, direction: 'up' },
  { kind: 'percent_move', params: { percent: '0.3', windowSeconds: 20 }, direction: 'down' },
  { kind: 'price_cross', params: { level: '100' }, direction: 'up' },
  {
    kind: 'indicator_cross',
    params: { indicator: 'rsi', period: 3, interval: '1s', threshold: '80' },
    direction: 'up',
  },
].map((r) => ({ ...r, symbols: ['C0', 'C1', 'C2'], name: null, webhookUrl: null }) as Omit<AlertRule, 'id'>)

async function setup(t: TestContext): Promise<{ db: Db; rules: AlertRule[] }> {
  const d = await createTestDatabase()
  t.after(() => d.drop())
  const db = connectPostgres(d.url)
  t.after(() => db.close())
  await migrate(db)
  const rules: AlertRule[] = []
  for (const r of RULES) rules.push(await createRule(db, r))
  return { db, rules }
}

const BATCHES = 20

/** Writes the stream in BATCHES batches; per batch, the statements reading ticks and bar series. */
async function run(t: TestContext, items: BatchItem[], storePerBatch: boolean) {
  const { db, rules } = await setup(t)
  const c = counting(db)
  const size = items.length / BATCHES
  let store = new TickStore(c.db)
  const ticks: number[] = []
  const series: number[] = []
  for (let b = 0; b < BATCHES; b++) {
    if (storePerBatch) store = new TickStore(c.db)
    const before = c.sent.length
    await writeBatch(store, 'g', items.slice(b * size, (b + 1) * size))
    ticks.push(c.sent.slice(before).filter(readsTicks).length)
    series.push(c.sent.slice(before).filter(readsSeries).length)
  }
  const rows = await db.query<{ f: string }>("select rule_id || ' ' || event as f from alert_firings")
  return { db, rules, c, ticks, series, fired: rows.map((r) => r.f).sort() }
}

test('the window of trades and the bar series are read once, not per batch; the firings are the same', async (t) => {
  const items = stream(2000)
  const cached = await run(t, items, false)
  const uncached = await run(t, items, true)
  const expected = oracleFirings(cached.rules, oracleTradesOf(items))
  const ids = new Map(uncached.rules.map((r, k) => [r.id, cached.rules[k]!.id]))
  assert.deepEqual(cached.fired, [...expected].sort())
  assert.deepEqual(uncached.fired.map((f) => f.replace(/^\d+/, (id) => ids.get(id)!)).sort(), cached.fired)
  for (const r of cached.rules)
    assert.ok(
      cached.fired.some((f) => f.startsWith(`${r.id} `)),
      `rule ${r.kind} fires`,
    )
  // Kept in memory: one read when the processor starts, none after.
  assert.deepEqual(cached.ticks, [1, ...Array<number>(BATCHES - 1).fill(0)])
  assert.deepEqual(cached.series, [1, ...Array<number>(BATCHES - 1).fill(0)])
  // Read back on every batch when nothing is kept (the behaviour before).
  assert.deepEqual(uncached.ticks, Array<number>(BATCHES).fill(1))
  assert.deepEqual(uncached.series, Array<number>(BATCHES).fill(1))
  t.diagnostic(`${expected.size} firings; reads of ticks per batch: ${cached.ticks.join(',')}`)
})

test('a batch rolled back after it was evaluated is evaluated again from the store: same firings', async (t) => {
  const items = stream(600)
  const { db, rules } = await setup(t)
  const c = counting(db)
  const store = new TickStore(c.db)
  await writeBatch(store, 'g', items.slice(0, 300))
  // The second batch carries a repeated trade id: a dead letter, so the DLQ publish runs, and fails.
  const second = [
    ...items.slice(300),
    tradeItem(600, { symbol: 'C0', ts: items[0]!.tick!.ts, price: '1', id: 'c0' }),
  ]
  await assert.rejects(
    writeBatch(store, 'g', second, () => Promise.reject(new Error('broker down'))),
    /broker down/,
  )
  const before = c.sent.length
  const again = await writeBatch(store, 'g', second, () => Promise.resolve())
  assert.equal(again.deadLettered.length, 1)
  // The cache saw the rolled-back batch, so it is dropped and read again from the store.
  assert.equal(c.sent.slice(before).filter(readsTicks).length, 1)
  const rows = await db.query<{ f: string }>("select rule_id || ' ' || event as f from alert_firings")
  const expected = oracleFirings(rules, oracleTradesOf(items))
  assert.deepEqual(rows.map((r) => r.f).sort(), [...expected].sort())
  assert.ok(expected.size > 0)
})
