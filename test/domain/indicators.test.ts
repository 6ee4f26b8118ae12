// The indicators against an independent implementation (trading-signals, a test-only dependency)
// on every symbol of the S&P 500 daily file: equal to the last printed digit wherever both define a
// value. Realized volatility and session VWAP are checked against SQL window functions in
// test/api/indicators.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { BollingerBands, EMA, MACD, RSI, SMA } from 'trading-signals'
import { dataFile } from '../support/data.ts'
import {
  computeIndicator,
  fixed,
  PLACES,
  type IndicatorBar,
  type IndicatorSpec,
} from '../../src/domain/indicators.ts'
import { add, divText, parseDec, sub } from '../../src/domain/decimal.ts'

const file = dataFile('all_stocks_5yr.csv.gz')

/** The file's rows that the daily import stores as bars, per symbol in date order. */
function series(): Map<string, IndicatorBar[]> {
  const [, ...lines] = gunzipSync(readFileSync(file.path)).toString('utf8').trim().split('\n')
  const out = new Map<string, IndicatorBar[]>()
  for (const line of lines) {
    const [date, o, h, l, c, v, name] = line.split(',')
    if ([o, h, l, c].some((x) => x === '')) continue
    const [open, high, low, close] = [o, h, l, c].map(Number) as [number, number, number, number]
    if (high < low || high < Math.max(open, close) || low > Math.min(open, close)) continue
    const bar = { bucket: date!, session: date!, high: h!, low: l!, close: c!, volume: v!, pv: null }
    out.set(name!, [...(out.get(name!) ?? []), bar])
  }
  for (const bars of out.values()) bars.sort((a, b) => (a.bucket < b.bucket ? -1 : 1))
  return out
}

const all = series()
const spec = (s: Partial<IndicatorSpec> & Pick<IndicatorSpec, 'name'>): IndicatorSpec => ({
  period: 20,
  fast: 12,
  slow: 26,
  signal: 9,
  k: 2,
  ...s,
})

/** Runs ours and theirs over every symbol; returns the number of values compared and the mismatches. */
function compare(
  ours: IndicatorSpec,
  theirs: () => (close: number) => (number | null)[] | null,
  exact?: (bars: IndicatorBar[], i: number, j: number) => string,
): { compared: number; defined: number; mismatches: string[]; ties: number } {
  let ties = 0
  let compared = 0
  let defined = 0
  const mismatches: string[] = []
  for (const [symbol, bars] of all) {
    const mine = computeIndicator(ours, bars)
    const update = theirs()
    bars.forEach((bar, i) => {
      const expected = update(Number(bar.close))
      mine[i]!.values.forEach((v, j) => {
        if (v === null) return
        defined++
        const e = expected?.[j]
        if (e === null || e === undefined) {
          mismatches.push(`${symbol} ${bar.bucket}: ours ${v}, theirs none`)
          return
        }
        compared++
        if (fixed(e) === v) return
        // Binary floats cannot round a value within their error of a tie: there the exact value,
        // correctly rounded, decides (and must be ours).
        if (exact && exact(bars, i, j) === v && Math.abs(Number(v) - e) < 10 ** -PLACES) ties++
        else mismatches.push(`${symbol} ${bar.bucket} [${j}]: ours ${v}, theirs ${fixed(e)}`)
      })
    })
  }
  return { compared, defined, mismatches, ties }
}

/** Integer square root (floor), by Newton's method from above. */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n
  let x = BigInt(Math.ceil(Math.sqrt(Number(n)) * (1 + 1e-9))) + 1n
  for (let y = (x + n / x) >> 1n; y < x; y = (x + n / x) >> 1n) x = y
  return x
}

/** A Bollinger band to 30 digits past the point (σ by integer square root), correctly rounded. */
function exactBand(period: number, k: string, side: 1 | 2) {
  return (bars: IndicatorBar[], i: number, j: number): string => {
    if (j !== side) throw new Error('only the bands are irrational')
    const xs = bars.slice(i - period + 1, i + 1).map((b) => parseDec(b.close))
    const s = Math.max(...xs.map((x) => x.s))
    const ints = xs.map((x) => x.v * 10n ** BigInt(s - x.s))
    const n = BigInt(period)
    const sum = ints.reduce((a, b) => a + b, 0n)
    const spread = n * ints.reduce((a, b) => a + b * b, 0n) - sum * sum // / (n² · 10^2s)
    const sd30 = isqrt((spread * 10n ** 60n) / (n * n * 10n ** BigInt(2 * s))) // σ · 10^30
    const kd = parseDec(k)
    const mean = { v: sum * 10n ** BigInt(30 + kd.s - s), s: 30 + kd.s }
    const width = { v: sd30 * kd.v * n, s: 30 + kd.s } // n·k·σ: the band is (Σx ± n·k·σ) / n
    const band = j === 1 ? add(mean, width) : sub(mean, width)
    return divText(band, { v: n, s: 0 }, PLACES)
  }
}

const rowsAfterWarmup = (warmup: number) =>
  [...all.values()].reduce((n, bars) => n + Math.max(0, bars.length - warmup), 0)

test('the daily file has its 505 symbols', () => {
  if (file.full) assert.equal(all.size, 505)
  assert.ok(all.size > 0)
})

for (const period of [5, 20, 50]) {
  test(`SMA(${period}) equals trading-signals' SMA on every symbol`, () => {
    const r = compare(spec({ name: 'sma', period }), () => {
      const x = new SMA(period)
      return (c) => [x.update(c, false)]
    })
    assert.deepEqual(r.mismatches.slice(0, 5), [])
    assert.equal(r.defined, rowsAfterWarmup(period - 1))
    assert.equal(r.compared, r.defined)
  })
}

for (const period of [10, 20]) {
  test(`EMA(${period}) equals trading-signals' EMA on every symbol`, () => {
    const r = compare(spec({ name: 'ema', period }), () => {
      const x = new EMA(period)
      return (c) => {
        x.update(c, false)
        return x.isStable ? [x.getResultOrThrow()] : null
      }
    })
    assert.deepEqual(r.mismatches.slice(0, 5), [])
    assert.equal(r.defined, rowsAfterWarmup(period - 1))
  })
}

for (const period of [14, 2]) {
  test(`RSI(${period}) by Wilder equals trading-signals' RSI on every symbol`, () => {
    const r = compare(spec({ name: 'rsi', period }), () => {
      const x = new RSI(period)
      return (c) => [x.update(c, false)]
    })
    assert.deepEqual(r.mismatches.slice(0, 5), [])
    assert.equal(r.defined, rowsAfterWarmup(period))
  })
}

for (const [period, k] of [
  [20, 2],
  [10, 1.5],
] as const) {
  test(`Bollinger(${period}, ${k}) equals trading-signals' BollingerBands on every symbol`, () => {
    const band = { upper: exactBand(period, String(k), 1), lower: exactBand(period, String(k), 2) }
    const r = compare(
      spec({ name: 'bollinger', period, k }),
      () => {
        const x = new BollingerBands(period, k)
        return (c) => {
          const b = x.update(c, false)
          return b && [b.middle, b.upper, b.lower]
        }
      },
      (bars, i, j) => (j === 1 ? band.upper : band.lower)(bars, i, j),
    )
    assert.deepEqual(r.mismatches.slice(0, 5), [])
    assert.equal(r.defined, 3 * rowsAfterWarmup(period - 1))
    assert.ok(r.ties <= 3, `${r.ties} values at a rounding tie`)
  })
}

test('MACD(12, 26, 9) equals trading-signals MACD on every symbol', () => {
  const r = compare(spec({ name: 'macd' }), () => {
    const x = new MACD(new EMA(12), new EMA(26), new EMA(9))
    return (c) => {
      const m = x.update(c, false)
      return m && [m.macd, m.signal, m.histogram]
    }
  })
  assert.deepEqual(r.mismatches.slice(0, 5), [])
  assert.equal(r.defined, rowsAfterWarmup(25) + 2 * rowsAfterWarmup(33))
})

test('SMA, Bollinger middle and VWAP are exact decimals, rounded half away from zero once', () => {
  const bars = ['1.00000001', '1.00000002', '1.00000002'].map((close, i) => ({
    bucket: String(i),
    session: 'd',
    high: close,
    low: close,
    close,
    volume: '1',
    pv: close,
  }))
  // (1.00000001 + 1.00000002) / 2 = 1.000000015 → 1.00000002; binary floats give 1.00000001
  assert.equal(computeIndicator(spec({ name: 'sma', period: 2 }), bars)[1]!.values[0], '1.00000002')
  assert.equal(((1.00000001 + 1.00000002) / 2).toFixed(8), '1.00000001')
  assert.equal(computeIndicator(spec({ name: 'vwap' }), bars)[1]!.values[0], '1.00000002')
  assert.equal(divText(parseDec('-1'), parseDec('3'), 2), '-0.33')
  assert.equal(divText(parseDec('-0.005'), parseDec('1'), 2), '-0.01')
})
