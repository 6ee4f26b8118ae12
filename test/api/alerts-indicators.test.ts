// An RSI alert fires exactly where the RSI that GET /api/v1/indicators serves crosses its threshold,
// with the served value: the closes of the daily file's symbols are replayed as one trade per
// minute bar, in batches, through two processors in turn (the second rebuilds what the rules read
// from the store), and every stored firing is compared with the served series.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { parse } from 'csv-parse/sync'
import { buildApp } from '../../src/api/app.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { createRule } from '../../src/store/alerts.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import type { AlertRule } from '../../src/domain/alerts.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { dataFile } from '../support/data.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tradeItem } from '../support/trades.ts'

const SYMBOLS = 3
const BASE = Date.UTC(2026, 10, 23)

/** The closes of the file's symbols with the most rows (complete rows only), in date order. */
function closes(): Map<string, string[]> {
  const [, ...lines] = gunzipSync(readFileSync(dataFile('all_stocks_5yr.csv.gz').path))
    .toString('utf8')
    .trim()
    .split('\n')
  const rows = new Map<string, { date: string; close: string }[]>()
  for (const line of lines) {
    const [date, o, h, l, c, , name] = line.split(',')
    if ([o, h, l, c].some((x) => x === '')) continue
    rows.set(name!, [...(rows.get(name!) ?? []), { date: date!, close: c! }])
  }
  const top = [...rows].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1)).slice(0, SYMBOLS)
  return new Map(top.map(([s, r]) => [s, r.sort((a, b) => (a.date < b.date ? -1 : 1)).map((x) => x.close)]))
}

const RULES: { period: number; threshold: string; direction: 'up' | 'down' }[] = [
  { period: 14, threshold: '70', direction: 'up' },
  { period: 14, threshold: '30', direction: 'down' },
  { period: 2, threshold: '90', direction: 'up' },
]

test('RSI alerts on the daily file fire where the served RSI crosses, with the served value', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const series = closes()
  const symbols = [...series.keys()]
  const rules: AlertRule[] = []
  for (const r of RULES)
    rules.push(
      await createRule(db, {
        kind: 'indicator_cross',
        params: { indicator: 'rsi', period: r.period, interval: '1m', threshold: r.threshold },
        symbols,
        direction: r.direction,
        name: null,
        webhookUrl: null,
      }),
    )
  // Day i of a symbol is its one trade in minute i; the symbols interleave.
  const items: BatchItem[] = []
  const longest = Math.max(...[...series.values()].map((c) => c.length))
  for (let i = 0; i < longest; i++)
    for (const s of symbols) {
      const close = series.get(s)![i]
      if (close === undefined) continue
      const ts = new Date(BASE + i * 60_000 + 1000).toISOString()
      items.push(tradeItem(items.length, { symbol: s, ts, price: close, size: '100' }))
    }
  // Two processors in turn: the second starts from the store, as after a restart.
  const half = Math.floor(items.length / 2)
  for (const [store, from, to] of [
    [new TickStore(db), 0, half],
    [new TickStore(db), half, items.length],
  ] as const)
    for (let i = from; i < to; i += 97) await writeBatch(store, 'g', items.slice(i, Math.min(i + 97, to)))

  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db })
  t.after(() => app.close())
  const expected: string[] = []
  for (const s of symbols)
    for (const [k, r] of RULES.entries()) {
      const res = await app.inject(
        `/api/v1/indicators?symbol=${s}&interval=1m&name=rsi&period=${r.period}&format=csv`,
      )
      assert.equal(res.statusCode, 200, res.body)
      const served = parse<{ bucket: string; value: string }>(res.body, { columns: true })
      assert.equal(served.length, series.get(s)!.length)
      for (let i = 1; i < served.length; i++) {
        const [before, after] = [served[i - 1]!.value, served[i]!.value]
        if (before === '' || after === '') continue
        const crossed =
          r.direction === 'up'
            ? Number(before) < Number(r.threshold) && Number(after) >= Number(r.threshold)
            : Number(before) > Number(r.threshold) && Number(after) <= Number(r.threshold)
        if (crossed) expected.push(`${rules[k]!.id} ${s} ${served[i]!.bucket} ${after}`)
      }
    }
  const fired = await db.query<{ f: string }>(
    `select rule_id || ' ' || symbol || ' ' || to_char(date_trunc('minute', ts) at time zone 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' ' || value as f from alert_firings`,
  )
  assert.deepEqual(fired.map((r) => r.f).sort(), expected.sort())
  for (const r of rules)
    assert.ok(
      expected.some((e) => e.startsWith(`${r.id} `)),
      `rule ${r.id} fires on the file`,
    )
  t.diagnostic(`${items.length} trades, ${expected.length} firings equal to the served RSI crossings`)
})
