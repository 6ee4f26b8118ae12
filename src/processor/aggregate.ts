// Bar aggregation of one batch, pure and exact: ticks → partial bars per (symbol, interval, bucket),
// merged into the stored bars by the store in the same transaction. Decimals (domain/decimal.ts) are
// integers of units at a scale (BigInt), so sums and products are exact; results keep PostgreSQL's numeric scales —
// a product's scale is the sum of its factors' scales, a sum's the largest of its terms' — so the
// stored volume and pv, and the vwap PostgreSQL divides from them, equal what a GROUP BY over ticks
// gives, digit for digit. (Validation guarantees plain decimals: digits with an optional fraction.)
import type { Interval, PartialBar, Tick } from '../domain/types.ts'
import { effectOf, type Effect } from '../domain/conditions.ts'
import { bucketStart } from './lateness.ts'
import { add, cmp as compare, decText, mul, parseDec, ZERO, type Dec } from '../domain/decimal.ts'

export type { PartialBar }

interface Acc {
  bar: PartialBar
  openKey: number
  closeKey: number
  high: Dec | undefined
  low: Dec | undefined
  volume: Dec
  pv: Dec
}

const before = (k1: number, s1: bigint, k2: number, s2: bigint): boolean => k1 < k2 || (k1 === k2 && s1 < s2)

function emptyBar(t: Tick, interval: Interval, bucket: number): Acc {
  return {
    bar: {
      symbol: t.symbol,
      interval,
      bucket,
      open: null,
      high: null,
      low: null,
      close: null,
      volume: '',
      pv: '',
      trades: 0,
      openTs: null,
      openSeq: null,
      closeTs: null,
      closeSeq: null,
    },
    openKey: 0,
    closeKey: 0,
    high: undefined,
    low: undefined,
    volume: ZERO,
    pv: ZERO,
  }
}

/** Adds one trade to a bar, in the fields its sale conditions let it update. */
function addTrade(a: Acc, t: Tick, effect: Effect, price: Dec, size: Dec, pv: Dec): void {
  const b = a.bar
  const key = t.micros // ordering within a bar; ties broken by ingest_seq (the offset)
  b.trades++
  if (effect.last) {
    if (b.openSeq === null || before(key, t.offset, a.openKey, b.openSeq)) {
      a.openKey = key
      b.open = t.price
      b.openTs = t.ts
      b.openSeq = t.offset
    }
    if (b.closeSeq === null || before(a.closeKey, b.closeSeq, key, t.offset)) {
      a.closeKey = key
      b.close = t.price
      b.closeTs = t.ts
      b.closeSeq = t.offset
    }
  }
  if (effect.highLow) {
    if (a.high === undefined || compare(price, a.high) > 0) {
      a.high = price
      b.high = t.price
    }
    if (a.low === undefined || compare(price, a.low) < 0) {
      a.low = price
      b.low = t.price
    }
  }
  if (effect.volume) {
    a.volume = add(a.volume, size)
    a.pv = add(a.pv, pv)
  }
}

/**
 * The batch's partial bars. Each trade updates the fields its sale conditions allow (effectOf:
 * the consolidated tapes' matrices for US equities, every field for crypto); `trades` counts them all.
 */
export function aggregate(ticks: Tick[], intervals: readonly Interval[], timezone: string): PartialBar[] {
  const accs = new Map<string, Acc>()
  for (const t of ticks) {
    const effect = effectOf(t.source, t.conditions)
    const price = parseDec(t.price)
    const size = parseDec(t.size)
    const pv = mul(price, size)
    for (const interval of intervals) {
      const bucket = bucketStart(interval, t.tsMs, timezone)
      const id = `${t.symbol}\0${interval}\0${bucket}`
      let a = accs.get(id)
      if (!a) accs.set(id, (a = emptyBar(t, interval, bucket)))
      addTrade(a, t, effect, price, size, pv)
    }
  }
  return [...accs.values()].map((a) => ({ ...a.bar, volume: decText(a.volume), pv: decText(a.pv) }))
}
