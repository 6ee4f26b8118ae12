import { test } from 'node:test'
import assert from 'node:assert/strict'
import { aggregate, formatDec } from '../../src/processor/aggregate.ts'
import type { Tick } from '../../src/processor/validate.ts'

function tick(ts: string, price: string, size: string, offset: number, symbol = 'AAPL'): Tick {
  return {
    symbol,
    ts,
    tsMs: Date.parse(ts),
    price,
    size,
    source: 't',
    tradeId: String(offset),
    recvTs: null,
    topic: 'ticks',
    partition: 0,
    offset: BigInt(offset),
    raw: Buffer.alloc(0),
  }
}

test('decimals print with exactly their scale, as PostgreSQL numeric does', () => {
  assert.equal(formatDec({ units: 5n, scale: 3 }), '0.005')
  assert.equal(formatDec({ units: 123450n, scale: 2 }), '1234.50')
  assert.equal(formatDec({ units: 0n, scale: 2 }), '0.00')
  assert.equal(formatDec({ units: 42n, scale: 0 }), '42')
})

test('partial bars are exact over mixed scales, with open/close by (event time, offset)', () => {
  const ticks = [
    tick('2026-11-24T14:30:00.500000Z', '0.1', '3', 7),
    tick('2026-11-24T14:30:00.200000Z', '0.20', '0.25', 9), // earlier event, arrives later: the open
    tick('2026-11-24T14:30:00.900000Z', '99999999999.9999999999', '0.000000000001', 8),
    tick('2026-11-24T14:30:00.900000Z', '0.3', '1000000000000000', 10), // same time, higher offset: the close
    tick('2026-11-24T14:30:01.000000Z', '5', '2', 11), // the next second
  ]
  const bars = aggregate(ticks, ['1s', '1m'], 'UTC')
  const second = bars.find((b) => b.interval === '1s' && b.bucket === Date.parse('2026-11-24T14:30:00Z'))!
  assert.deepEqual(
    { open: second.open, high: second.high, low: second.low, close: second.close, trades: second.trades },
    { open: '0.20', high: '99999999999.9999999999', low: '0.1', close: '0.3', trades: 4 },
  )
  // Σ size at the largest size scale (12); Σ price·size at the largest product scale (10 + 12).
  assert.equal(second.volume, '1000000000000003.250000000001')
  assert.equal(second.pv, '300000000000000.4499999999999999999999') // Python's decimal agrees
  const minute = bars.find((b) => b.interval === '1m')!
  assert.equal(minute.trades, 5)
  assert.equal(minute.close, '5')
  assert.equal(minute.volume, '1000000000000005.250000000001')
  assert.equal(bars.length, 3)
})
