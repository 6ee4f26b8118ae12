// The bars of one symbol and interval as the alert rules on an indicator read them: kept in memory
// between batches, changed trade by trade, with the indicator's state after each bar remembered so
// a change to a bar recomputes only from that bar on. The indicator is the one GET
// /api/v1/indicators serves (src/domain/indicators.ts), pushed the same bars in the same order from
// the first bar of the series, so an alert reads exactly the served value.
import { createRsi, type IndicatorBar, type Resumable } from './indicators.ts'
import { add, decText, parseDec } from './decimal.ts'

/** A stored bar as the alert rules read it. */
export interface HistoryBar {
  /** Bucket start, ms since the epoch (UTC). */
  bucket: number
  volume: string
  close: string
  closeMicros: number
  closeSeq: bigint
}

/** The state of one indicator over the series: after each kept bar, and before the first one. */
interface Track {
  base: Resumable
  states: Resumable[]
  values: (string | null)[]
}

/** Bars kept before the oldest half is folded into each indicator's base state. */
const KEEP = 4096

export class CloseSeries {
  readonly bars: HistoryBar[]
  /** Bars before this bucket were folded away: a trade there needs the series read again. */
  floor = -Infinity
  readonly #rsi = new Map<number, Track>()

  /** `bars`: the whole series as stored, by bucket. */
  constructor(bars: HistoryBar[]) {
    this.bars = bars
  }

  /** False when a trade at `bucket`, or RSI of one of `periods`, needs bars no longer held. */
  coversAll(bucket: number, periods: number[]): boolean {
    if (this.floor === -Infinity) return true
    return bucket >= this.floor && periods.every((p) => this.#rsi.has(p))
  }

  /** Only the RSI periods in `periods` are kept. */
  retain(periods: Set<number>): void {
    for (const p of this.#rsi.keys()) if (!periods.has(p)) this.#rsi.delete(p)
  }

  /** Adds a trade to its bar (volume; close if it is the bar's latest in event time). */
  add(bucket: number, t: BarTrade): void {
    const changed = addTrade(this.bars, bucket, t)
    if (changed >= 0) this.#changed(changed)
  }

  /** RSI(`period`) at the last bar at or before `bucket`, as served; null while it warms up. */
  rsiAt(period: number, bucket: number): string | null {
    const i = upperIndex(this.bars, bucket) - 1
    if (i < 0) return null
    const track = this.#track(period)
    for (let j = track.values.length; j <= i; j++) {
      const state = (j === 0 ? track.base : track.states[j - 1]!).clone()
      track.values.push(state.push(indicatorBar(this.bars[j]!))[0] ?? null)
      track.states.push(state)
    }
    return track.values[i]!
  }

  #track(period: number): Track {
    let track = this.#rsi.get(period)
    if (!track) {
      if (this.floor !== -Infinity) throw new Error(`RSI(${period}) asked of a folded series`)
      this.#rsi.set(period, (track = { base: createRsi(period), states: [], values: [] }))
    }
    return track
  }

  /** Bar `i` changed: the states from it on are recomputed when next read. */
  #changed(i: number): void {
    for (const track of this.#rsi.values())
      if (track.values.length > i) {
        track.values.length = i
        track.states.length = i
      }
  }

  /** Over KEEP bars: the oldest half is folded into each indicator's base state (between batches). */
  compact(): void {
    if (this.bars.length <= KEEP) return
    const drop = KEEP / 2
    for (const [period, track] of this.#rsi) {
      this.rsiAt(period, this.bars[drop - 1]!.bucket)
      track.base = track.states[drop - 1]!
      track.states.splice(0, drop)
      track.values.splice(0, drop)
    }
    this.bars.splice(0, drop)
    this.floor = this.bars[0]!.bucket
  }
}

/** The trade (m1, s1) is at or after (m2, s2) in event time (ties by arrival). */
/** A trade as it changes a bar: its event time (µs), its order among equal times, price and size. */
export interface BarTrade {
  micros: number
  seq: bigint
  price: string
  size: string
}

/**
 * Adds a trade to its bar in `bars` (sorted by bucket), making the bar if it is the first: volume,
 * and close when the trade is the bar's latest in event time. Returns the index of the bar whose
 * close was set, else -1.
 */
export function addTrade(bars: HistoryBar[], bucket: number, t: BarTrade): number {
  const at = upperIndex(bars, bucket)
  const bar = at > 0 && bars[at - 1]!.bucket === bucket ? bars[at - 1] : undefined
  if (!bar) {
    bars.splice(at, 0, { bucket, volume: t.size, close: t.price, closeMicros: t.micros, closeSeq: t.seq })
    return at
  }
  bar.volume = decText(add(parseDec(bar.volume), parseDec(t.size)))
  if (!later(t.micros, t.seq, bar.closeMicros, bar.closeSeq)) return -1
  bar.close = t.price
  bar.closeMicros = t.micros
  bar.closeSeq = t.seq
  return at - 1
}

export const later = (m1: number, s1: bigint, m2: number, s2: bigint): boolean =>
  m1 > m2 || (m1 === m2 && s1 >= s2)

/** What the indicator reads of a bar (RSI: the close). */
function indicatorBar(b: HistoryBar): IndicatorBar {
  return { bucket: '', session: '', high: b.close, low: b.close, close: b.close, volume: b.volume, pv: null }
}

/** Index of the first item whose `key` is > `value`, in items sorted by `key`. */
export function upperIndexBy<T>(items: T[], value: number, key: (item: T) => number): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (key(items[mid]!) <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the first bar with bucket > `bucket`. */
export const upperIndex = (bars: { bucket: number }[], bucket: number): number =>
  upperIndexBy(bars, bucket, (b) => b.bucket)
