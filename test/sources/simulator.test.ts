import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simulate } from '../../src/sources/simulator.ts'

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
