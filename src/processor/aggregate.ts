// Bar aggregation of one batch, pure and exact: ticks → partial bars per (symbol, interval, bucket),
// merged into the stored bars by the store in the same transaction. Decimals are integers of units
// at a scale (BigInt), so sums and products are exact; results keep PostgreSQL's numeric scales —
// a product's scale is the sum of its factors' scales, a sum's the largest of its terms' — so the
// stored volume and pv, and the vwap PostgreSQL divides from them, equal what a GROUP BY over ticks
// gives, digit for digit. (Validation guarantees plain decimals: digits with an optional fraction.)
import type { Tick } from './validate.ts'
import { bucketStart } from './lateness.ts'
import type { Interval } from '../store/bars.ts'

export interface PartialBar {
  symbol: string
  interval: Interval
  /** Bucket start, ms since the epoch. */
  bucket: number
  open: string
  high: string
  low: string
  close: string
  volume: string
  pv: string
  trades: number
  openTs: string
  openSeq: bigint
  closeTs: string
  closeSeq: bigint
}

/** An exact decimal: `units` × 10^-`scale`. */
interface Dec {
  units: bigint
  scale: number
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i))

function parseDec(decimal: string): Dec {
  const dot = decimal.indexOf('.')
  if (dot < 0) return { units: BigInt(decimal), scale: 0 }
  return { units: BigInt(decimal.slice(0, dot) + decimal.slice(dot + 1)), scale: decimal.length - dot - 1 }
}

/** a + b, at the larger of the two scales. */
function add(a: Dec, b: Dec): Dec {
  if (a.scale === b.scale) return { units: a.units + b.units, scale: a.scale }
  if (a.scale > b.scale) return { units: a.units + b.units * POW10[a.scale - b.scale]!, scale: a.scale }
  return { units: a.units * POW10[b.scale - a.scale]! + b.units, scale: b.scale }
}

/** Sign of a - b. */
function compare(a: Dec, b: Dec): number {
  const x = a.scale >= b.scale ? a.units : a.units * POW10[b.scale - a.scale]!
  const y = b.scale >= a.scale ? b.units : b.units * POW10[a.scale - b.scale]!
  return x < y ? -1 : x > y ? 1 : 0
}

/** The decimal's text with exactly `scale` fraction digits, as PostgreSQL prints a numeric. */
export function formatDec(d: Dec): string {
  const digits = d.units.toString()
  if (d.scale === 0) return digits
  const padded = digits.padStart(d.scale + 1, '0')
  return `${padded.slice(0, -d.scale)}.${padded.slice(-d.scale)}`
}

interface Acc {
  bar: PartialBar
  openKey: number
  openSeq: bigint
  closeKey: number
  closeSeq: bigint
  high: Dec
  low: Dec
  volume: Dec
  pv: Dec
}

/** Event time in microseconds, for ordering ticks within a bar (ties broken by ingest_seq). */
export function eventMicros(t: Tick): number {
  const dot = t.ts.indexOf('.', 17)
  const frac = dot < 0 ? '' : t.ts.slice(dot + 1, t.ts.length - 1)
  return Math.floor(t.tsMs / 1000) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6))
}

const before = (k1: number, s1: bigint, k2: number, s2: bigint): boolean => k1 < k2 || (k1 === k2 && s1 < s2)

export function aggregate(ticks: Tick[], intervals: readonly Interval[], timezone: string): PartialBar[] {
  const accs = new Map<string, Acc>()
  for (const t of ticks) {
    const key = eventMicros(t)
    const price = parseDec(t.price)
    const size = parseDec(t.size)
    const pv: Dec = { units: price.units * size.units, scale: price.scale + size.scale }
    for (const interval of intervals) {
      const bucket = bucketStart(interval, t.tsMs, timezone)
      const id = `${t.symbol}\0${interval}\0${bucket}`
      const a = accs.get(id)
      if (!a) {
        accs.set(id, {
          bar: {
            symbol: t.symbol,
            interval,
            bucket,
            open: t.price,
            high: t.price,
            low: t.price,
            close: t.price,
            volume: '',
            pv: '',
            trades: 1,
            openTs: t.ts,
            openSeq: t.offset,
            closeTs: t.ts,
            closeSeq: t.offset,
          },
          openKey: key,
          openSeq: t.offset,
          closeKey: key,
          closeSeq: t.offset,
          high: price,
          low: price,
          volume: size,
          pv,
        })
        continue
      }
      const b = a.bar
      b.trades++
      if (before(key, t.offset, a.openKey, a.openSeq)) {
        a.openKey = key
        a.openSeq = t.offset
        b.open = t.price
        b.openTs = t.ts
        b.openSeq = t.offset
      }
      if (before(a.closeKey, a.closeSeq, key, t.offset)) {
        a.closeKey = key
        a.closeSeq = t.offset
        b.close = t.price
        b.closeTs = t.ts
        b.closeSeq = t.offset
      }
      if (compare(price, a.high) > 0) {
        a.high = price
        b.high = t.price
      }
      if (compare(price, a.low) < 0) {
        a.low = price
        b.low = t.price
      }
      a.volume = add(a.volume, size)
      a.pv = add(a.pv, pv)
    }
  }
  return [...accs.values()].map((a) => ({ ...a.bar, volume: formatDec(a.volume), pv: formatDec(a.pv) }))
}
