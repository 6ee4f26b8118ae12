import { test } from 'node:test'
import assert from 'node:assert/strict'
import { aggregate } from '../../src/processor/aggregate.ts'
import { decText } from '../../src/domain/decimal.ts'
import type { PartialBar, Tick } from '../../src/domain/types.ts'
import { parseMicros } from '../../src/domain/time.ts'

function tick(
  ts: string,
  price: string,
  size: string,
  offset: number,
  symbol = 'AAPL',
  conditions?: string[],
  source = 't',
): Tick {
  return {
    ...(conditions ? { conditions } : {}),
    symbol,
    ts,
    micros: parseMicros(ts)!,
    tsMs: Date.parse(ts),
    price,
    size,
    source,
    tradeId: String(offset),
    recvTs: null,
    topic: 'ticks',
    partition: 0,
    offset: BigInt(offset),
    raw: Buffer.alloc(0),
  }
}

test('decimals print with exactly their scale, as PostgreSQL numeric does', () => {
  assert.equal(decText({ v: 5n, s: 3 }), '0.005')
  assert.equal(decText({ v: 123450n, s: 2 }), '1234.50')
  assert.equal(decText({ v: 0n, s: 2 }), '0.00')
  assert.equal(decText({ v: 42n, s: 0 }), '42')
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

const pick = (b: PartialBar) => ({
  open: b.open,
  high: b.high,
  low: b.low,
  close: b.close,
  volume: b.volume,
  pv: b.pv,
  trades: b.trades,
})

test('sale conditions decide which trades set open/close, high/low and volume', () => {
  const s = '2026-11-24T20:59:'
  const ticks = [
    tick(`${s}58.000000Z`, '10.00', '100', 1, 'AAPL', ['UTP:@']),
    tick(`${s}58.100000Z`, '50.00', '10', 2, 'AAPL', ['UTP:I']), // odd lot: volume only
    tick(`${s}58.200000Z`, '9.00', '200', 3, 'AAPL', ['UTP:Z']), // out of sequence: high/low, volume
    tick(`${s}58.300000Z`, '11.00', '100', 4, 'AAPL', ['UTP:F', 'UTP:@']), // intermarket sweep: all
    tick(`${s}58.400000Z`, '12.00', '5000000', 5, 'AAPL', ['UTP:M']), // official close: nothing
    tick(`${s}58.500000Z`, '10.50', '300', 6, 'AAPL', ['UTP:T']), // form T: volume only
  ]
  const [bar] = aggregate(ticks, ['1s'], 'UTC')
  assert.deepEqual(pick(bar!), {
    open: '10.00',
    high: '11.00',
    low: '9.00',
    close: '11.00',
    volume: '710', // 100 + 10 + 200 + 100 + 300; the official close's 5,000,000 is not volume
    pv: '7550.00', // 1000 + 500 + 1800 + 1100 + 3150
    trades: 6,
  })
})

test('a bar whose trades may not set prices has a volume and no open, high, low or close', () => {
  const ts = '2026-11-24T21:00:00.000000Z'
  const bars = aggregate(
    [tick(ts, '12.00', '5000000', 1, 'AAPL', ['CTA:M']), tick(ts, '12.10', '7', 2, 'AAPL', ['CTA:I'])],
    ['1m'],
    'UTC',
  )
  assert.deepEqual(pick(bars[0]!), {
    open: null,
    high: null,
    low: null,
    close: null,
    volume: '7',
    pv: '84.70',
    trades: 2,
  })
  assert.deepEqual(
    [bars[0]!.openTs, bars[0]!.openSeq, bars[0]!.closeTs, bars[0]!.closeSeq],
    [null, null, null, null],
  )
  // the official close alone: not even volume
  const [only] = aggregate([tick(ts, '12.00', '5000000', 1, 'AAPL', ['UTP:M'])], ['1m'], 'UTC')
  assert.deepEqual(pick(only!), {
    open: null,
    high: null,
    low: null,
    close: null,
    volume: '0',
    pv: '0',
    trades: 1,
  })
  // out of sequence alone: high/low but no open/close
  const [z] = aggregate([tick(ts, '12.00', '100', 1, 'AAPL', ['UTP:Z'])], ['1m'], 'UTC')
  assert.deepEqual(pick(z!), {
    open: null,
    high: '12.00',
    low: '12.00',
    close: null,
    volume: '100',
    pv: '1200.00',
    trades: 1,
  })
})

test('a crypto source counts every trade, whatever conditions it carries', () => {
  const ts = '2026-11-24T21:00:00.000000Z'
  const [bar] = aggregate([tick(ts, '90000.5', '0.01', 1, 'BTCUSDT', ['UTP:M'], 'binance')], ['1m'], 'UTC')
  assert.deepEqual(pick(bar!), {
    open: '90000.5',
    high: '90000.5',
    low: '90000.5',
    close: '90000.5',
    volume: '0.01',
    pv: '900.005',
    trades: 1,
  })
})
