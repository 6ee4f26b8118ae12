// Alerts are evaluated in event time on each committed batch, deterministically: the firings of a
// stream of trades (late ones included) do not depend on how it is cut into batches, equal an
// independent brute-force computation, and a batch written again fires nothing again.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { evaluateAlerts } from '../../src/processor/alerts.ts'
import { createRule } from '../../src/store/alerts.ts'
import type { AlertRule } from '../../src/domain/alerts.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'
import { oracleFirings, oracleTradesOf } from '../support/alerts-oracle.ts'

async function database(t: TestContext): Promise<Db> {
  const d = await createTestDatabase()
  t.after(() => d.drop())
  const db = connectPostgres(d.url)
  t.after(() => db.close())
  await migrate(db)
  return db
}

const rule = (id: string, r: Omit<AlertRule, 'id' | 'name' | 'webhookUrl'>): AlertRule =>
  ({ id, name: null, webhookUrl: null, ...r }) as AlertRule

const ticksOf = (items: BatchItem[]) => items.map((i) => i.tick!)

test('a price crossing is judged against the trade before it in event time, also for a late trade', () => {
  const up = rule('1', { kind: 'price_cross', params: { level: '100' }, symbols: ['TEST'], direction: 'up' })
  const down = rule('2', {
    kind: 'price_cross',
    params: { level: '100' },
    symbols: ['TEST'],
    direction: 'down',
  })
  const items = [
    tradeItem(0, { ts: '2026-11-24T15:00:00Z', price: '99.5' }),
    tradeItem(1, { ts: '2026-11-24T15:00:02Z', price: '100.25' }), // up: 99.5 → 100.25
    tradeItem(2, { ts: '2026-11-24T15:00:01Z', price: '99.75' }), // late: after 99.5, so no crossing down
    tradeItem(3, { ts: '2026-11-24T15:00:03Z', price: '100' }), // at the level from above: no up
    tradeItem(4, { ts: '2026-11-24T15:00:04Z', price: '99.99' }), // already at or below 100: no new down
    tradeItem(5, { ts: '2026-11-24T15:00:01.5Z', price: '100.5' }), // late: after 99.75 → up
  ]
  const fired = evaluateAlerts([up, down], ticksOf(items), {
    trades: new Map(),
    bars: new Map(),
    series: new Map(),
  })
  assert.deepEqual(
    fired.map((f) => [f.ruleId, f.event, f.ts, f.value]),
    [
      ['1', 'ticks/0/1', '2026-11-24T15:00:02.000000Z', '100.25'],
      ['2', 'ticks/0/3', '2026-11-24T15:00:03.000000Z', '100'],
      ['1', 'ticks/0/5', '2026-11-24T15:00:01.500000Z', '100.5'],
    ],
  )
  assert.equal(new Set(fired.map((f) => f.id)).size, 3)
  assert.match(fired[0]!.id, /^[0-9a-f]{32}$/)
})

test('percent move, volume spike and RSI crossings give their exact values (RSI as served)', () => {
  const move = rule('1', {
    kind: 'percent_move',
    params: { percent: '2', windowSeconds: 10 },
    symbols: ['TEST'],
    direction: 'up',
  })
  const spike = rule('2', {
    kind: 'volume_spike',
    params: { multiple: '3', period: 2, interval: '1s' },
    symbols: ['TEST'],
    direction: 'up',
  })
  const rsi = rule('3', {
    kind: 'indicator_cross',
    params: { indicator: 'rsi', period: 2, interval: '1s', threshold: '70' },
    symbols: ['TEST'],
    direction: 'up',
  })
  const items = [
    tradeItem(0, { ts: '2026-11-24T15:00:00Z', price: '50', size: '10' }),
    tradeItem(1, { ts: '2026-11-24T15:00:01Z', price: '50.5', size: '10' }),
    // Wilder RSI(2): mean gain (0.5 + 0)/2 = 0.25, loss (0 + 0.3)/2 = 0.15 → 62.5
    tradeItem(2, { ts: '2026-11-24T15:00:02Z', price: '50.2', size: '10' }),
    // +2.2 % over 10 s; gain 0.25 + (0.9 − 0.25)/2 = 0.575, loss 0.15 − 0.15/2 = 0.075 → 88.46… up
    tradeItem(3, { ts: '2026-11-24T15:00:10.5Z', price: '51.1', size: '59' }),
    tradeItem(4, { ts: '2026-11-24T15:00:10.6Z', price: '51.2', size: '2' }), // volume 61 ≥ 3 × mean(0,0)? no bars → none
  ]
  const fired = evaluateAlerts([move, spike, rsi], ticksOf(items), {
    trades: new Map(),
    bars: new Map(),
    series: new Map(),
  })
  assert.deepEqual(
    fired.map((f) => [f.ruleId, f.event, f.value]),
    [
      ['1', 'ticks/0/3', '2.2000'],
      ['3', 'ticks/0/3', '88.46153846'],
    ],
  )
  const vol = [
    tradeItem(0, { ts: '2026-11-24T15:00:00Z', price: '50', size: '10' }),
    tradeItem(1, { ts: '2026-11-24T15:00:01Z', price: '50', size: '20' }), // 20 × 2 ≥ 3 × (10 + 0): fires
    tradeItem(2, { ts: '2026-11-24T15:00:02Z', price: '50', size: '44' }), // 44 × 2 < 3 × 30
    tradeItem(3, { ts: '2026-11-24T15:00:02.5Z', price: '50', size: '1' }), // 45 × 2 = 3 × 30 → fires
  ]
  const v = evaluateAlerts([spike], ticksOf(vol), { trades: new Map(), bars: new Map(), series: new Map() })
  assert.deepEqual(
    v.map((f) => [f.ruleId, f.event, f.value]),
    [
      ['2', 'ticks/0/1', '4.0000'],
      ['2', 'ticks/0/3', '3.0000'],
    ],
  )
})

/** A seeded random stream: 4 symbols, a random walk in cents, one trade in eight up to 8 s late. */
function stream(n: number, seed: number): BatchItem[] {
  let s = seed
  const rnd = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  const price = new Map<string, number>()
  const base = Date.UTC(2026, 10, 24, 15)
  const items: BatchItem[] = []
  for (let i = 0; i < n; i++) {
    const symbol = `S${Math.floor(rnd() * 4)}`
    const p = Math.max(9000, (price.get(symbol) ?? 10_000) + Math.round((rnd() - 0.5) * 60))
    price.set(symbol, p)
    const late = rnd() < 0.125 ? Math.floor(rnd() * 8000) : 0
    const ms = base + i * 137 - late
    const ts = new Date(ms)
      .toISOString()
      .replace('Z', `${String(Math.floor(rnd() * 1000)).padStart(3, '0')}Z`)
    items.push(
      tradeItem(i, { symbol, ts, price: (p / 100).toFixed(2), size: String(1 + Math.floor(rnd() * 50)) }),
    )
  }
  return items
}

const RULES: Omit<AlertRule, 'id'>[] = [
  {
    kind: 'price_cross',
    params: { level: '100.2' },
    symbols: ['S0', 'S1', 'S2', 'S3'],
    direction: 'up',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'price_cross',
    params: { level: '99.8' },
    symbols: ['S0', 'S1'],
    direction: 'down',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'percent_move',
    params: { percent: '0.4', windowSeconds: 5 },
    symbols: ['S0', 'S2'],
    direction: 'up',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'percent_move',
    params: { percent: '0.4', windowSeconds: 5 },
    symbols: ['S1', 'S3'],
    direction: 'down',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'volume_spike',
    params: { multiple: '2.5', period: 3, interval: '1s' },
    symbols: ['S0', 'S1', 'S2', 'S3'],
    direction: 'up',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'indicator_cross',
    params: { indicator: 'rsi', period: 4, interval: '1s', threshold: '70' },
    symbols: ['S0', 'S3'],
    direction: 'up',
    name: null,
    webhookUrl: null,
  },
  {
    kind: 'indicator_cross',
    params: { indicator: 'rsi', period: 4, interval: '1s', threshold: '30' },
    symbols: ['S1', 'S2'],
    direction: 'down',
    name: null,
    webhookUrl: null,
  },
]

async function run(
  t: TestContext,
  items: BatchItem[],
  cuts: number[],
): Promise<{ db: Db; rules: AlertRule[]; fired: Set<string> }> {
  const db = await database(t)
  const rules: AlertRule[] = []
  for (const r of RULES) rules.push(await createRule(db, r))
  const store = new TickStore(db)
  let from = 0
  for (const cut of [...cuts, items.length]) {
    await writeBatch(store, 'g', items.slice(from, cut))
    from = cut
  }
  const rows = await db.query<{ rule_id: string; event: string }>(
    'select rule_id::text, event from alert_firings',
  )
  return { db, rules, fired: new Set(rows.map((r) => `${r.rule_id} ${r.event}`)) }
}

test('stored firings equal the brute-force computation, however the stream is cut into batches, and a batch written again fires nothing', async (t) => {
  const items = stream(1500, 7)
  const one = await run(t, items, [])
  const expected = oracleFirings(one.rules, oracleTradesOf(items))
  assert.deepEqual([...one.fired].sort(), [...expected].sort())
  // every rule fired, so every kind was really compared
  for (const r of one.rules)
    assert.ok(
      [...expected].some((k) => k.startsWith(`${r.id} `)),
      `rule ${r.kind} ${r.direction} never fired`,
    )
  const cuts = [1, 2, 3, 50, 51, 400, 777, 778, 1000, 1499]
  const split = await run(t, items, cuts)
  assert.deepEqual([...split.fired].sort(), [...one.fired].sort())
  // the same batches again (a crash before the consumer learned of the commit): nothing new
  const store = new TickStore(split.db)
  const again = await writeBatch(store, 'g', items.slice(400, 1000))
  assert.equal(again.skipped, 600)
  assert.deepEqual(again.firings, [])
  const [n] = await split.db.query<{ n: string }>('select count(*)::text as n from alert_firings')
  assert.equal(Number(n!.n), expected.size)
})
