// Bar aggregation of one batch, pure and exact: ticks → partial bars per (symbol, interval, bucket),
// merged into the stored bars by the store in the same transaction. Sums use big.js (exact decimal
// addition and multiplication) and keep PostgreSQL's numeric scales — a product's scale is the sum
// of its factors' scales, a sum's the largest of its terms' — so the stored volume and pv, and the
// vwap PostgreSQL divides from them, equal what a GROUP BY over ticks gives, digit for digit.
import { Big } from 'big.js'
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

interface Acc {
  bar: PartialBar
  openKey: number
  openSeq: bigint
  closeKey: number
  closeSeq: bigint
  high: Big
  low: Big
  volume: Big
  volumeScale: number
  pv: Big
  pvScale: number
}

function scale(decimal: string): number {
  const dot = decimal.indexOf('.')
  return dot < 0 ? 0 : decimal.length - dot - 1
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
    const price = new Big(t.price)
    const size = new Big(t.size)
    const pv = price.times(size)
    const pvScale = scale(t.price) + scale(t.size)
    const sizeScale = scale(t.size)
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
          volumeScale: sizeScale,
          pv,
          pvScale,
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
      if (price.gt(a.high)) {
        a.high = price
        b.high = t.price
      }
      if (price.lt(a.low)) {
        a.low = price
        b.low = t.price
      }
      a.volume = a.volume.plus(size)
      a.volumeScale = Math.max(a.volumeScale, sizeScale)
      a.pv = a.pv.plus(pv)
      a.pvScale = Math.max(a.pvScale, pvScale)
    }
  }
  return [...accs.values()].map((a) => ({
    ...a.bar,
    volume: a.volume.toFixed(a.volumeScale),
    pv: a.pv.toFixed(a.pvScale),
  }))
}
