import { test } from 'node:test'
import assert from 'node:assert/strict'
import { aggregate } from '../../src/processor/aggregate.ts'
import fc from 'fast-check'
import { add, cmp, decText, mul, parseDec, ZERO } from '../../src/domain/decimal.ts'
import { INTERVALS, type Interval, type PartialBar, type Tick } from '../../src/domain/types.ts'
import { formatMicros, parseMicros } from '../../src/domain/time.ts'
import { effectOf } from '../../src/domain/conditions.ts'
import { bucketStart } from '../../src/processor/lateness.ts'

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

/**
 * The definition, trade by trade and interval by interval: a bar's trades in batch order; open is
 * the first trade of least (event time, offset), close the first of greatest, high/low the first
 * of the extreme value (its text kept: 10.0 and 10.00 are equal), volume and pv exact sums.
 */
function reference(ticks: Tick[], intervals: readonly Interval[], tz: string): PartialBar[] {
  const out: PartialBar[] = []
  for (const interval of intervals) {
    const groups = new Map<string, Tick[]>()
    for (const t of ticks) {
      const k = `${t.symbol}|${bucketStart(interval, t.tsMs, tz)}`
      groups.set(k, [...(groups.get(k) ?? []), t])
    }
    for (const [k, group] of groups) {
      const later = (a: Tick, b: Tick): boolean =>
        a.micros > b.micros || (a.micros === b.micros && a.offset > b.offset)
      const last = group.filter((t) => effectOf(t.source, t.conditions).last)
      const hl = group.filter((t) => effectOf(t.source, t.conditions).highLow)
      const vol = group.filter((t) => effectOf(t.source, t.conditions).volume)
      const open = last.reduce<Tick | undefined>(
        (m, t) => (m === undefined || later(m, t) ? t : m),
        undefined,
      )
      const close = last.reduce<Tick | undefined>(
        (m, t) => (m === undefined || later(t, m) ? t : m),
        undefined,
      )
      const high = hl.reduce<Tick | undefined>(
        (m, t) => (m === undefined || cmp(parseDec(t.price), parseDec(m.price)) > 0 ? t : m),
        undefined,
      )
      const low = hl.reduce<Tick | undefined>(
        (m, t) => (m === undefined || cmp(parseDec(t.price), parseDec(m.price)) < 0 ? t : m),
        undefined,
      )
      out.push({
        symbol: group[0]!.symbol,
        interval,
        bucket: Number(k.split('|')[1]),
        open: open?.price ?? null,
        high: high?.price ?? null,
        low: low?.price ?? null,
        close: close?.price ?? null,
        volume: decText(vol.reduce((s, t) => add(s, parseDec(t.size)), ZERO)),
        pv: decText(vol.reduce((s, t) => add(s, mul(parseDec(t.price), parseDec(t.size))), ZERO)),
        trades: group.length,
        openTs: open?.ts ?? null,
        openSeq: open?.offset ?? null,
        closeTs: close?.ts ?? null,
        closeSeq: close?.offset ?? null,
      })
    }
  }
  return out
}

const byKey = (bars: PartialBar[]): PartialBar[] =>
  [...bars].sort((a, b) =>
    `${a.interval}|${a.symbol}|${a.bucket}` < `${b.interval}|${b.symbol}|${b.bucket}` ? -1 : 1,
  )

test('bars merged from one-second bars equal every trade added to every interval, in any zone', () => {
  // Around a local midnight of zones whose offsets are not whole hours (+05:45, +10:30 in summer)
  // and one with DST, with equal prices written differently and repeated (time, offset) pairs.
  const midnight = Date.parse('2026-11-24T18:15:00Z') // 00:00 in Asia/Kathmandu
  const trade = fc.record({
    symbol: fc.constantFrom('AAPL', 'MSFT'),
    us: fc.oneof(
      fc.integer({ min: -3_000_000, max: 3_000_000 }),
      fc.integer({ min: -7_200_000_000, max: 7_200_000_000 }),
    ),
    price: fc.constantFrom('10', '10.0', '10.00', '9.5', '11.25', '0.0001'),
    size: fc.constantFrom('1', '0.5', '100', '0.000001'),
    offset: fc.integer({ min: 0, max: 40 }),
    conditions: fc.constantFrom<string[] | undefined>(
      undefined,
      ['UTP:@'],
      ['UTP:I'],
      ['UTP:Z'],
      ['UTP:M'],
      ['UTP:T'],
    ),
    source: fc.constantFrom('t', 't', 'binance'),
  })
  fc.assert(
    fc.property(
      fc.array(trade, { maxLength: 120 }),
      fc.constantFrom('UTC', 'Asia/Kathmandu', 'Australia/Adelaide', 'America/New_York'),
      (trades, tz) => {
        const ticks = trades.map((x) => {
          const micros = midnight * 1000 + x.us
          return {
            ...tick(formatMicros(micros), x.price, x.size, x.offset, x.symbol, x.conditions, x.source),
            tsMs: Math.floor(micros / 1000),
            micros,
          }
        })
        assert.deepEqual(byKey(aggregate(ticks, INTERVALS, tz)), byKey(reference(ticks, INTERVALS, tz)))
      },
    ),
    { numRuns: 300 },
  )
})

test('of equal highs and lows written differently, the first trade of the batch gives the text', () => {
  const s = '2026-11-24T14:30:'
  const ticks = [
    tick(`${s}00.100000Z`, '9', '1', 1),
    tick(`${s}01.100000Z`, '10.00', '1', 2), // the first 10 of the batch, in the second second
    tick(`${s}00.200000Z`, '10.0', '1', 3),
    tick(`${s}01.200000Z`, '9.000', '1', 4), // the first 9 in the second second, after 9 in the first
  ]
  const minute = aggregate(ticks, ['1m'], 'UTC')[0]!
  assert.deepEqual([minute.high, minute.low], ['10.00', '9'])
  assert.deepEqual(byKey(aggregate(ticks, INTERVALS, 'UTC')), byKey(reference(ticks, INTERVALS, 'UTC')))
})
