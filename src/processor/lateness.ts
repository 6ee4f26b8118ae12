// Event-time watermarks per symbol: the latest event time seen minus the allowed lateness. A bar
// whose end is at or before its symbol's watermark is final: it is pushed live as final once, and
// a trade that still arrives for it is late (counted per interval; it still updates the stored bar,
// so the bars invariant holds). Pure: no I/O, state is the watermark map.
import type { Bar, Interval, Tick } from '../domain/types.ts'

const FIXED: Record<Exclude<Interval, '1d'>, number> = {
  '1s': 1000,
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
}

/** Start of the bucket holding `ms` (UTC for sub-daily intervals, midnight in `tz` for 1d). */
export function bucketStart(interval: Interval, ms: number, tz = 'UTC'): number {
  if (interval !== '1d') return Math.floor(ms / FIXED[interval]) * FIXED[interval]
  if (tz === 'UTC') return Math.floor(ms / 86_400_000) * 86_400_000
  // Zone offsets change on whole seconds: one answer per (zone, second) serves every trade of
  // that second without the slow Intl calls.
  const key = `${tz}\0${Math.floor(ms / 1000)}`
  let start = dailyStarts.get(key)
  if (start === undefined) {
    if (dailyStarts.size >= 4096) dailyStarts.clear()
    dailyStarts.set(key, (start = zonedMidnight(ms, tz)))
  }
  return start
}

const dailyStarts = new Map<string, number>()

/** Local calendar date in tz, then the UTC instant of its midnight (two passes settle DST). */
function zonedMidnight(ms: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms)
  const midnightUtc = Date.parse(`${parts}T00:00:00Z`)
  let guess = midnightUtc
  for (let i = 0; i < 2; i++) guess = midnightUtc - offsetMs(tz, guess)
  return guess
}

function offsetMs(tz: string, ms: number): number {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]))
  const asUtc = Date.UTC(
    Number(p.year),
    Number(p.month) - 1,
    Number(p.day),
    Number(p.hour),
    Number(p.minute),
    Number(p.second),
  )
  return asUtc - Math.floor(ms / 1000) * 1000
}

export function bucketEnd(interval: Interval, ms: number, tz = 'UTC'): number {
  const start = bucketStart(interval, ms, tz)
  if (interval !== '1d') return start + FIXED[interval]
  return bucketStart('1d', start + 36 * 3_600_000, tz)
}

export interface BarUpdate extends Bar {
  /** No more on-time trades can change it: its end is at or before the symbol's watermark. */
  final: boolean
}

export class Watermarks {
  readonly #lateness: number
  readonly #tz: string
  readonly #maxSeen = new Map<string, number>()

  constructor(allowedLatenessMs: number, timezone = 'UTC') {
    this.#lateness = allowedLatenessMs
    this.#tz = timezone
  }

  watermark(symbol: string): number {
    return (this.#maxSeen.get(symbol) ?? Number.NEGATIVE_INFINITY) - this.#lateness
  }

  /**
   * Takes a committed batch's ticks (in offset order) and returns how many were late per interval,
   * judged against the watermark before each tick; then advances the watermarks.
   */
  observe(ticks: Tick[], intervals: readonly Interval[]): Map<Interval, number> {
    const late = new Map<Interval, number>()
    for (const t of ticks) {
      const wm = this.watermark(t.symbol)
      for (const iv of intervals)
        if (bucketEnd(iv, t.tsMs, this.#tz) <= wm) late.set(iv, (late.get(iv) ?? 0) + 1)
      if (t.tsMs > (this.#maxSeen.get(t.symbol) ?? Number.NEGATIVE_INFINITY))
        this.#maxSeen.set(t.symbol, t.tsMs)
    }
    return late
  }

  /** Marks bar updates final or not against the current watermarks. */
  classify(bars: Bar[]): BarUpdate[] {
    return bars.map((b) => ({
      ...b,
      final: bucketEnd(b.interval, Date.parse(b.bucket), this.#tz) <= this.watermark(b.symbol),
    }))
  }
}
