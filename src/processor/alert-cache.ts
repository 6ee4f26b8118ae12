// What the alert rules read, kept in memory between batches: per symbol the stored trades from the
// start of the longest window on (price crossings, percent moves), per symbol and interval the whole
// bar series (indicator rules). It is read from the store once (at start, or when a rule needs more
// than it holds) and then changed only by the batches this processor evaluates, so a batch no longer
// reads its window of trades back.
//
// It is valid only while every trade of its symbols went through it: it remembers, per partition,
// the offset after the last batch it saw, and a batch whose stored offsets differ (a batch that was
// rolled back, a restart, partitions handed over by a rebalance) empties it first. A symbol lives
// in one partition, so the check covers every trade the cache holds.
import type { AlertHistory, AlertRule, HistoryNeed, HistoryTrade } from '../domain/alerts.ts'
import type { PartitionOffset } from '../domain/types.ts'
import type { CloseSeries } from '../domain/close-series.ts'
import { rsiPeriods } from './alerts.ts'
import { offsetKey } from '../store/ticks.ts'

/** Trades kept before the longest window: room for late trades without a read. */
const SLACK_MICROS = 60_000_000

/** Reads up to the end of time: the cache must hold the trades after the batch too. */
const END = Number.MAX_SAFE_INTEGER

interface Trades {
  /** Every stored trade with micros ≥ from, and the last one before it. */
  from: number
  list: HistoryTrade[]
}

export class AlertCache {
  readonly #through = new Map<string, bigint>()
  readonly #trades = new Map<string, Trades>()
  readonly #series = new Map<string, CloseSeries>()

  /** At a batch's start, with the offsets stored for its partitions (`topic\0partition` → next). */
  check(stored: Map<string, bigint>): void {
    for (const [key, next] of stored)
      if (this.#through.get(key) !== next) {
        this.#through.clear()
        this.#trades.clear()
        this.#series.clear()
        return
      }
  }

  /** After the batch's plan: the offsets it stores. */
  advance(offsets: PartitionOffset[]): void {
    for (const o of offsets) this.#through.set(offsetKey(o.topic, o.partition), o.next)
  }

  /** Forgets what no rule reads any more: a symbol's trades go on being stored without it. */
  retain(rules: AlertRule[]): void {
    const tradeSymbols = new Set<string>()
    const periods = new Map<string, Set<number>>()
    for (const r of rules) {
      if (r.kind === 'price_cross' || r.kind === 'percent_move') r.symbols.forEach((s) => tradeSymbols.add(s))
      for (const [interval, ps] of rsiPeriods([r]))
        for (const s of r.symbols) {
          const key = `${s}\0${interval}`
          periods.set(key, new Set([...(periods.get(key) ?? []), ...ps]))
        }
    }
    for (const s of this.#trades.keys()) if (!tradeSymbols.has(s)) this.#trades.delete(s)
    for (const [key, series] of this.#series) {
      const ps = periods.get(key)
      if (ps) series.retain(ps)
      else this.#series.delete(key)
    }
  }

  /** What of `needs` the store must read: the bars of volume rules, and what the cache lacks. */
  missing(needs: HistoryNeed[]): HistoryNeed[] {
    const out: HistoryNeed[] = []
    for (const n of needs) {
      const have = this.#trades.get(n.symbol)
      const trades = n.trades && !(have && have.from <= n.trades.from) ? { ...n.trades, to: END } : undefined
      const series = n.series?.filter(
        (s) => !this.#series.get(`${n.symbol}\0${s.interval}`)?.coversAll(s.from, s.periods),
      )
      const need: HistoryNeed = { symbol: n.symbol, bars: n.bars }
      if (trades) need.trades = trades
      if (series && series.length > 0) need.series = series
      if (trades || need.series || n.bars.length > 0) out.push(need)
    }
    return out
  }

  /** The history of a batch: what the store read for `read` (from `missing`) merged into the cache. */
  history(read: HistoryNeed[], stored: AlertHistory, needs: HistoryNeed[]): AlertHistory {
    for (const n of read)
      if (n.trades) this.#trades.set(n.symbol, { from: n.trades.from, list: stored.trades.get(n.symbol)! })
    for (const [key, series] of stored.series) this.#series.set(key, series)
    const trades = new Map<string, HistoryTrade[]>()
    for (const n of needs) if (n.trades) trades.set(n.symbol, this.#trades.get(n.symbol)!.list)
    return { trades, bars: stored.bars, series: this.#series }
  }

  /** After evaluation: the trades before each symbol's longest window (and slack) are dropped. */
  compact(rules: AlertRule[]): void {
    const windows = new Map<string, number>()
    for (const r of rules) {
      const w = r.kind === 'percent_move' ? r.params.windowSeconds * 1_000_000 : 0
      for (const s of r.symbols) windows.set(s, Math.max(windows.get(s) ?? 0, w))
    }
    for (const [symbol, t] of this.#trades) {
      const last = t.list.at(-1)
      if (!last) continue
      const from = last.micros - (windows.get(symbol) ?? 0) - SLACK_MICROS
      if (from <= t.from) continue
      // keep the last trade before `from` too: it is the price at `from`
      let k = 0
      while (k < t.list.length && t.list[k]!.micros < from) k++
      t.list.splice(0, Math.max(0, k - 1))
      t.from = from
    }
    for (const series of this.#series.values()) series.compact()
  }
}
