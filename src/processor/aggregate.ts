// Bar aggregation of one batch, pure and exact: ticks → partial bars per (symbol, interval, bucket),
// merged into the stored bars by the store in the same transaction. Decimals (domain/decimal.ts) are
// integers of units at a scale (BigInt), so sums and products are exact; results keep PostgreSQL's numeric scales —
// a product's scale is the sum of its factors' scales, a sum's the largest of its terms' — so the
// stored volume and pv, and the vwap PostgreSQL divides from them, equal what a GROUP BY over ticks
// gives, digit for digit. (Validation guarantees plain decimals: digits with an optional fraction.)
import type { Interval, PartialBar, Tick } from '../domain/types.ts'
import { effectOf } from '../domain/conditions.ts'
import { bucketStart } from './lateness.ts'
import { add, cmp as compare, decText, mul, parseDec, ZERO, type Dec } from '../domain/decimal.ts'

export type { PartialBar }

interface Acc {
  bar: PartialBar
  openKey: number
  closeKey: number
  high: Dec | undefined
  low: Dec | undefined
  /** Batch positions of the trades that set high and low: of equal values the first one's text is kept. */
  highPos: number
  lowPos: number
  volume: Dec
  pv: Dec
}

const before = (k1: number, s1: bigint, k2: number, s2: bigint): boolean => k1 < k2 || (k1 === k2 && s1 < s2)

function emptyBar(symbol: string, interval: Interval, bucket: number): Acc {
  return {
    bar: {
      symbol,
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
    highPos: 0,
    lowPos: 0,
    volume: ZERO,
    pv: ZERO,
  }
}

/** Adds one trade (at position pos of the batch) to a bar, in the fields its sale conditions let it update. */
function addTrade(a: Acc, t: Tick, pos: number): void {
  const effect = effectOf(t.source, t.conditions)
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
  if (!effect.highLow && !effect.volume) return
  const price = parseDec(t.price)
  if (effect.highLow) {
    if (a.high === undefined || compare(price, a.high) > 0) {
      a.high = price
      a.highPos = pos
      b.high = t.price
    }
    if (a.low === undefined || compare(price, a.low) < 0) {
      a.low = price
      a.lowPos = pos
      b.low = t.price
    }
  }
  if (effect.volume) {
    const size = parseDec(t.size)
    a.volume = add(a.volume, size)
    a.pv = add(a.pv, mul(price, size))
  }
}

/**
 * Merges the partial bar `p` into `a`: the same result as adding p's trades to a one by one, in
 * batch order (of equal highs or lows the earlier trade's text, e.g. 10.0 before 10.00).
 */
function mergeInto(a: Acc, p: Acc): void {
  const b = a.bar
  const q = p.bar
  b.trades += q.trades
  if (q.openSeq !== null && (b.openSeq === null || before(p.openKey, q.openSeq, a.openKey, b.openSeq))) {
    a.openKey = p.openKey
    b.open = q.open
    b.openTs = q.openTs
    b.openSeq = q.openSeq
  }
  if (
    q.closeSeq !== null &&
    (b.closeSeq === null || before(a.closeKey, b.closeSeq, p.closeKey, q.closeSeq))
  ) {
    a.closeKey = p.closeKey
    b.close = q.close
    b.closeTs = q.closeTs
    b.closeSeq = q.closeSeq
  }
  if (p.high !== undefined) {
    const c = a.high === undefined ? 1 : compare(p.high, a.high)
    if (c > 0 || (c === 0 && p.highPos < a.highPos)) {
      a.high = p.high
      a.highPos = p.highPos
      b.high = q.high
    }
  }
  if (p.low !== undefined) {
    const c = a.low === undefined ? -1 : compare(p.low, a.low)
    if (c < 0 || (c === 0 && p.lowPos < a.lowPos)) {
      a.low = p.low
      a.lowPos = p.lowPos
      b.low = q.low
    }
  }
  a.volume = add(a.volume, p.volume)
  a.pv = add(a.pv, p.pv)
}

const finish = (a: Acc): PartialBar => ({ ...a.bar, volume: decText(a.volume), pv: decText(a.pv) })

/**
 * The batch's partial bars. Each trade updates the fields its sale conditions allow (effectOf:
 * the consolidated tapes' matrices for US equities, every field for crypto); `trades` counts them all.
 * Trades are added once, into one-second bars; the other intervals merge those. Every second lies
 * inside one bucket of each interval (the fixed ones are whole seconds, and zone offsets, so local
 * midnights, are whole seconds too), so this equals adding every trade to every interval.
 */
export function aggregate(ticks: Tick[], intervals: readonly Interval[], timezone: string): PartialBar[] {
  const seconds: Acc[] = []
  const bySymbol = new Map<string, Map<number, Acc>>()
  let last: Acc | undefined
  for (let pos = 0; pos < ticks.length; pos++) {
    const t = ticks[pos]!
    const bucket = Math.floor(t.tsMs / 1000) * 1000
    let a = last
    if (a === undefined || a.bar.bucket !== bucket || a.bar.symbol !== t.symbol) {
      let buckets = bySymbol.get(t.symbol)
      if (!buckets) bySymbol.set(t.symbol, (buckets = new Map<number, Acc>()))
      a = buckets.get(bucket)
      if (!a) {
        buckets.set(bucket, (a = emptyBar(t.symbol, '1s', bucket)))
        seconds.push(a)
      }
      last = a
    }
    addTrade(a, t, pos)
  }
  const out: PartialBar[] = []
  for (const interval of intervals) {
    if (interval === '1s') {
      for (const a of seconds) out.push(finish(a))
      continue
    }
    const accs = new Map<string, Acc>()
    for (const s of seconds) {
      const bucket = bucketStart(interval, s.bar.bucket, timezone)
      const id = `${s.bar.symbol}\0${bucket}`
      let a = accs.get(id)
      if (!a) accs.set(id, (a = emptyBar(s.bar.symbol, interval, bucket)))
      mergeInto(a, s)
    }
    for (const a of accs.values()) out.push(finish(a))
  }
  return out
}
