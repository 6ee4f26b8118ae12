import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simulate } from '../../src/sources/simulator.ts'
import { openPglite } from '../../src/store/db.ts'
import { runCli } from '../support/cli.ts'

const opts = {
  symbols: ['AAPL', 'MSFT', 'NVDA'],
  rate: 1000,
  realtime: false,
  count: 20_000,
  seed: 11,
  start: Date.parse('2026-11-24T14:30:00Z'),
}

test('the simulator is deterministic for a seed and start', () => {
  const a = [...simulate(opts)]
  const b = [...simulate(opts)]
  assert.deepEqual(a, b)
  assert.notDeepEqual([...simulate({ ...opts, seed: 12 })].slice(0, 50), a.slice(0, 50))
})

test('simulated trades are realistic: exact 2-decimal prices, lots, increasing event time, unique ids', () => {
  const trades = [...simulate(opts)]
  assert.equal(trades.length, 20_000)
  const ids = new Set(trades.map((t) => t.id))
  assert.equal(ids.size, 20_000)
  let last = 0
  const perSymbol = new Map<string, number>()
  for (const t of trades) {
    assert.match(t.price, /^\d+\.\d{2}$/)
    assert.ok(Number(t.price) > 0)
    assert.match(t.size, /^[1-9]\d*$/)
    assert.match(t.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    const ms = Date.parse(t.ts)
    assert.ok(ms >= last)
    last = ms
    perSymbol.set(t.symbol, (perSymbol.get(t.symbol) ?? 0) + 1)
  }
  // Skewed activity: the first symbol trades more than the last.
  assert.ok(perSymbol.get('AAPL')! > perSymbol.get('NVDA')!)
  // About 1,000 trades per second of event time (bursts and quiet spells average out).
  const seconds = (last - opts.start) / 1000
  assert.ok(seconds > 8 && seconds < 40, `${seconds} s of event time`)
  // Round lots dominate.
  assert.ok(trades.filter((t) => Number(t.size) % 100 === 0).length > 0.5 * trades.length)
})

test('startPrices: each symbol starts from its given price; everything else of the seeded run is unchanged', () => {
  const base = [...simulate(opts)]
  const resumed = [...simulate({ ...opts, startPrices: { AAPL: '146.00', NVDA: '316.55' } })]
  assert.equal(resumed.length, base.length)
  for (const [i, t] of resumed.entries()) {
    const b = base[i]!
    assert.deepEqual({ ...t, price: '' }, { ...b, price: '' })
    if (t.symbol === 'MSFT') assert.equal(t.price, b.price)
  }
  const first = (symbol: string) => Number(resumed.find((t) => t.symbol === symbol)!.price)
  assert.ok(Math.abs(first('AAPL') / 146 - 1) < 0.01, `AAPL ${first('AAPL')}`)
  assert.ok(Math.abs(first('NVDA') / 316.55 - 1) < 0.01, `NVDA ${first('NVDA')}`)
})

test(
  'a second tickflow up on the same data resumes each symbol from its last stored price',
  { timeout: 180_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tickflow-resume-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const symbols = ['AMZN', 'AAPL', 'NVDA']
    const up = (seed: number) =>
      runCli(
        ['up', '--seed', String(seed), '--rate', '0', '--count', '1500', '--symbols', symbols.join(',')],
        { KAFKA_BROKERS: '', DATABASE_URL: '' },
        dir,
      )
    const first = await up(1)
    assert.equal(first.code, 0, first.output)
    const lastOf = async (): Promise<Record<string, string>> => {
      const db = await openPglite(join(dir, 'data/pglite'))
      try {
        const rows = await db.query<{ symbol: string; price: string }>(
          'select distinct on (symbol) symbol, price::text as price from ticks order by symbol, ts desc, ingest_seq desc',
        )
        return Object.fromEntries(rows.map((r) => [r.symbol, r.price]))
      } finally {
        await db.close()
      }
    }
    const last = await lastOf()
    assert.deepEqual(Object.keys(last).sort(), [...symbols].sort())
    // A different seed, as a new run without --seed would have: only resuming keeps the prices.
    const second = await up(2)
    assert.equal(second.code, 0, second.output)
    const db = await openPglite(join(dir, 'data/pglite'))
    t.after(() => db.close())
    const firsts = await db.query<{ symbol: string; price: string }>(
      `select distinct on (symbol) symbol, price::text as price from ticks
      where trade_id not in (select trade_id from ticks order by ts, ingest_seq limit 1500)
      order by symbol, ts, ingest_seq`,
    )
    const [{ n }] = (await db.query<{ n: string }>('select count(*)::text as n from ticks')) as [
      { n: string },
    ]
    assert.equal(n, '3000')
    // Exactly the trades the seeded simulator makes when it starts from the stored prices.
    const expected = new Map<string, string>()
    for (const tr of simulate({ symbols, seed: 2, rate: 0, realtime: false, count: 1500, startPrices: last }))
      if (!expected.has(tr.symbol)) expected.set(tr.symbol, tr.price)
    for (const { symbol, price } of firsts) {
      assert.equal(price, expected.get(symbol), symbol)
      const move = Math.abs(Number(price) / Number(last[symbol]) - 1)
      assert.ok(move < 0.01, `${symbol}: ${last[symbol]} → ${price}`)
    }
    assert.equal(firsts.length, symbols.length)
  },
)
