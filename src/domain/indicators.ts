// Technical indicators over stored bars, as pure streaming functions: an indicator takes the bars of
// one symbol and interval in bucket order, one at a time, and gives its values for each bar.
//
// Precision: SMA, the Bollinger middle band and session VWAP are exact decimal sums rounded once,
// half away from zero; the Bollinger bands add a binary-float k·σ to the exact mean. EMA, RSI,
// MACD, σ and realized volatility need
// repeated multiplication by fractions, square roots or logarithms, so they are computed in IEEE
// 754 binary64 (the same operations in the same order on every run and machine). Every value is
// printed with PLACES decimals.
//
// Warm-up: a bar whose value would rest on fewer bars than the indicator's definition needs gets
// null (SMA/Bollinger: the first period-1 bars; EMA: the first period-1; RSI: the first period;
// volatility: the first period; MACD: the first slow-1, its signal and histogram the first
// slow+signal-2). EMA, RSI and MACD are recursive: their value at a bar depends on every bar before
// it, so they are computed from the first bar of the series (see `lookback`).
import { add, divText, mul, parseDec, sub, ZERO, type Dec } from './decimal.ts'

export const INDICATOR_NAMES = ['sma', 'ema', 'rsi', 'bollinger', 'macd', 'volatility', 'vwap'] as const
export type IndicatorName = (typeof INDICATOR_NAMES)[number]

/** Decimals of every printed value. */
export const PLACES = 8

export interface IndicatorSpec {
  name: IndicatorName
  /** Bars in the window (SMA, EMA, Bollinger, volatility) or the smoothing period (RSI). */
  period: number
  /** MACD: the fast and slow EMA periods and the signal EMA period. */
  fast: number
  slow: number
  signal: number
  /** Bollinger: the band width in standard deviations. */
  k: number
}

export const DEFAULT_PERIOD: Record<IndicatorName, number> = {
  sma: 20,
  ema: 20,
  rsi: 14,
  bollinger: 20,
  macd: 26,
  volatility: 20,
  vwap: 1,
}

/** What an indicator reads of one bar (numerics as PostgreSQL prints them). */
export interface IndicatorBar {
  bucket: string
  /** The trading session the bar belongs to: its calendar day in the bars time zone. */
  session: string
  high: string
  low: string
  close: string
  volume: string
  /** Σ price·size of the bar's trades; null for an imported bar (no trades, so no exact VWAP). */
  pv: string | null
}

/** The value columns of each indicator, in the order `push` gives them. */
export const OUTPUTS: Record<IndicatorName, readonly string[]> = {
  sma: ['value'],
  ema: ['value'],
  rsi: ['value'],
  bollinger: ['middle', 'upper', 'lower'],
  macd: ['macd', 'signal', 'histogram'],
  volatility: ['value'],
  vwap: ['value'],
}

/**
 * The bars before the first wanted one that an exact value needs: a number of bars, every bar of
 * the series (recursive indicators), or the bars of the same session (VWAP).
 */
export type Lookback = { bars: number } | 'series' | 'session'

export function lookback(spec: IndicatorSpec): Lookback {
  switch (spec.name) {
    case 'sma':
    case 'bollinger':
      return { bars: spec.period - 1 }
    case 'volatility':
      return { bars: spec.period }
    case 'vwap':
      return 'session'
    default:
      return 'series'
  }
}

export type Values = (string | null)[]

export interface Indicator {
  push(bar: IndicatorBar): Values
}

/** A binary float printed with PLACES decimals; null when it is not a number. */
export function fixed(x: number): string | null {
  if (!Number.isFinite(x)) return null
  const text = x.toFixed(PLACES)
  return /^-0\.0*$/.test(text) ? text.slice(1) : text
}

/** EMA seeded with the first price: e₀ = p₀, eᵢ = pᵢ·α + eᵢ₋₁·(1−α), α = 2/(period+1). */
class Ema {
  readonly #alpha: number
  value: number | undefined
  count = 0
  readonly period: number
  constructor(period: number) {
    this.period = period
    this.#alpha = 2 / (period + 1)
  }
  push(x: number): number {
    this.count++
    this.value = x * this.#alpha + (this.value ?? x) * (1 - this.#alpha)
    return this.value
  }
  get ready(): boolean {
    return this.count >= this.period
  }
}

/** Wilder's smoothing: the mean of the first `period` inputs, then sᵢ = sᵢ₋₁ + (xᵢ − sᵢ₋₁)/period. */
class Wilder {
  readonly #first: number[] = []
  value: number | undefined
  readonly period: number
  constructor(period: number) {
    this.period = period
  }
  clone(): Wilder {
    const c = new Wilder(this.period)
    c.#first.push(...this.#first)
    c.value = this.value
    return c
  }
  push(x: number): void {
    if (this.value !== undefined) {
      this.value = (x - this.value) * (1 / this.period) + this.value
      return
    }
    this.#first.push(x)
    if (this.#first.length === this.period)
      this.value = this.#first.reduce((sum, v) => sum + v, 0) / this.period
  }
}

/** A window of the last `n` items. */
class Window<T> {
  readonly items: T[] = []
  readonly n: number
  constructor(n: number) {
    this.n = n
  }
  /** Adds an item; returns the one that left the window, if any. */
  push(x: T): T | undefined {
    this.items.push(x)
    return this.items.length > this.n ? this.items.shift() : undefined
  }
  get full(): boolean {
    return this.items.length === this.n
  }
}

function sma(period: number): Indicator {
  const window = new Window<Dec>(period)
  let sum = ZERO
  const n = { v: BigInt(period), s: 0 }
  return {
    push(bar) {
      const close = parseDec(bar.close)
      sum = add(sum, close)
      const out = window.push(close)
      if (out) sum = sub(sum, out)
      return [window.full ? divText(sum, n, PLACES) : null]
    },
  }
}

function ema(period: number): Indicator {
  const e = new Ema(period)
  return {
    push(bar) {
      const v = e.push(Number(bar.close))
      return [e.ready ? fixed(v) : null]
    },
  }
}

/** An indicator whose state can be copied: resumed from any bar after a later bar changes. */
export interface Resumable extends Indicator {
  clone(): Resumable
}

class Rsi implements Resumable {
  #gain: Wilder
  #loss: Wilder
  #prev: number | undefined
  constructor(period: number, from?: Rsi) {
    this.#gain = from ? from.#gain.clone() : new Wilder(period)
    this.#loss = from ? from.#loss.clone() : new Wilder(period)
    this.#prev = from ? from.#prev : undefined
  }
  clone(): Rsi {
    return new Rsi(this.#gain.period, this)
  }
  push(bar: IndicatorBar): Values {
    const close = Number(bar.close)
    const prev = this.#prev
    if (prev !== undefined) {
      this.#gain.push(close > prev ? close - prev : 0)
      this.#loss.push(close > prev ? 0 : prev - close)
    }
    this.#prev = close
    const gain = this.#gain.value
    const loss = this.#loss.value
    if (gain === undefined || loss === undefined) return [null]
    if (loss === 0) return [fixed(100)]
    return [fixed(100 - 100 / (gain / loss + 1))]
  }
}

/** RSI (Wilder) as /api/v1/indicators computes it, resumable: the alerts read the same values. */
export const createRsi = (period: number): Resumable => new Rsi(period)

function bollinger(period: number, k: number): Indicator {
  const window = new Window<Dec>(period)
  let sum = ZERO
  let squares = ZERO
  const n = { v: BigInt(period), s: 0 }
  return {
    push(bar) {
      const close = parseDec(bar.close)
      sum = add(sum, close)
      squares = add(squares, mul(close, close))
      const out = window.push(close)
      if (out) {
        sum = sub(sum, out)
        squares = sub(squares, mul(out, out))
      }
      if (!window.full) return [null, null, null]
      // Population variance, exact: (n·Σx² − (Σx)²) / n²; only its square root is rounded.
      const spread = sub(mul(n, squares), mul(sum, sum))
      const sd = Math.sqrt(Number(divText(spread, mul(n, n), 17)))
      // The mean stays exact; only k·sd is a binary float, added to it exactly, then rounded.
      const width = mul(parseDec((sd * k).toFixed(20)), n)
      return [
        divText(sum, n, PLACES),
        divText(add(sum, width), n, PLACES),
        divText(sub(sum, width), n, PLACES),
      ]
    },
  }
}

function macd(fast: number, slow: number, signal: number): Indicator {
  const f = new Ema(fast)
  const s = new Ema(slow)
  const sig = new Ema(signal)
  return {
    push(bar) {
      const close = Number(bar.close)
      const line = f.push(close) - s.push(close)
      if (!s.ready) return [null, null, null]
      const smooth = sig.push(line)
      if (!sig.ready) return [fixed(line), null, null]
      return [fixed(line), fixed(smooth), fixed(line - smooth)]
    },
  }
}

/** Sample standard deviation of the last `period` log returns of the close (not annualized). */
function volatility(period: number): Indicator {
  const closes = new Window<number>(period + 1)
  return {
    push(bar) {
      closes.push(Number(bar.close))
      if (!closes.full) return [null]
      const c = closes.items
      const returns = c.slice(1).map((x, i) => Math.log(x / c[i]!))
      const mean = returns.reduce((sum, r) => sum + r, 0) / period
      const squares = returns.reduce((sum, r) => sum + (r - mean) * (r - mean), 0)
      return [fixed(Math.sqrt(squares / (period - 1)))]
    },
  }
}

const THREE = { v: 3n, s: 0 }

/**
 * Session VWAP: Σ price·size / Σ size over the session's bars so far, exact. An imported bar has no
 * trades; it counts with its typical price (high+low+close)/3 times its volume.
 */
function vwap(): Indicator {
  let session: string | undefined
  // Both sums are kept times 3 so a typical price adds exactly.
  let pv3 = ZERO
  let volume3 = ZERO
  return {
    push(bar) {
      if (bar.session !== session) {
        session = bar.session
        pv3 = ZERO
        volume3 = ZERO
      }
      const volume = parseDec(bar.volume)
      const weighted =
        bar.pv === null
          ? mul(add(add(parseDec(bar.high), parseDec(bar.low)), parseDec(bar.close)), volume)
          : mul(parseDec(bar.pv), THREE)
      pv3 = add(pv3, weighted)
      volume3 = add(volume3, mul(volume, THREE))
      return [volume3.v === 0n ? null : divText(pv3, volume3, PLACES)]
    },
  }
}

export function createIndicator(spec: IndicatorSpec): Indicator {
  switch (spec.name) {
    case 'sma':
      return sma(spec.period)
    case 'ema':
      return ema(spec.period)
    case 'rsi':
      return createRsi(spec.period)
    case 'bollinger':
      return bollinger(spec.period, spec.k)
    case 'macd':
      return macd(spec.fast, spec.slow, spec.signal)
    case 'volatility':
      return volatility(spec.period)
    case 'vwap':
      return vwap()
  }
}

/** The indicator over a series of bars in bucket order: one row of values per bar. */
export function computeIndicator(
  spec: IndicatorSpec,
  bars: IndicatorBar[],
): { bucket: string; values: Values }[] {
  const indicator = createIndicator(spec)
  return bars.map((bar) => ({ bucket: bar.bucket, values: indicator.push(bar) }))
}
