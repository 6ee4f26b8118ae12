// Alert evaluation, pure: a batch's stored trades, in arrival order, against the user's rules and
// the history stored before them (kept between batches, or read by the store inside the batch's
// transaction: alert-cache.ts). RSI is the indicator GET /api/v1/indicators serves
// (domain/close-series.ts). Deterministic given the stored trades
// (each with its offset), so a batch replayed after a crash fires exactly what it fired before.
//
// "Crosses" in event time (docs/analytics.md, "Alerts"): every rule measures a quantity at an event
// time T over the trades known at a moment (S). When trade t arrives (S = the trades stored before
// it, in offset order), the rule fires at t if its condition is false at T = t.ts over S and true
// at T = t.ts over S + t. A late trade is thus compared with its predecessor in event time, not
// with the last trade that arrived; a trade that changes nothing at its own time fires nothing.
import { createHash } from 'node:crypto'
import type {
  AlertFiring,
  AlertHistory,
  AlertInterval,
  AlertRule,
  HistoryBar,
  HistoryNeed,
} from '../domain/alerts.ts'
import type { Tick } from '../domain/types.ts'
import { bucketStart } from './lateness.ts'
import { addTrade, CloseSeries, later, upperIndex, upperIndexBy } from '../domain/close-series.ts'
import {
  add,
  cmp,
  decInt,
  divText,
  isZero,
  mul,
  neg,
  parseDec,
  sub,
  ZERO,
  type Dec,
} from '../domain/decimal.ts'

const INTERVAL_MS: Record<AlertInterval, number> = {
  '1s': 1000,
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
}

const usesTrades = (r: AlertRule): boolean => r.kind === 'price_cross' || r.kind === 'percent_move'

/** The rules per symbol they watch. */
export function rulesBySymbol(rules: AlertRule[]): Map<string, AlertRule[]> {
  const out = new Map<string, AlertRule[]>()
  for (const r of rules) for (const s of r.symbols) out.set(s, [...(out.get(s) ?? []), r])
  return out
}

/** The history the rules need to evaluate `ticks` (the batch's trades to store). */
export function historyNeeds(rules: AlertRule[], ticks: Tick[]): HistoryNeed[] {
  const bySymbol = rulesBySymbol(rules)
  const span = new Map<string, { lo: number; hi: number }>()
  for (const t of ticks) {
    if (!bySymbol.has(t.symbol)) continue
    const s = span.get(t.symbol)
    if (!s) span.set(t.symbol, { lo: t.micros, hi: t.micros })
    else {
      if (t.micros < s.lo) s.lo = t.micros
      if (t.micros > s.hi) s.hi = t.micros
    }
  }
  const needs: HistoryNeed[] = []
  for (const [symbol, { lo, hi }] of span) {
    const rs = bySymbol.get(symbol)!
    const need: HistoryNeed = { symbol, bars: [] }
    if (rs.some(usesTrades)) {
      const window = Math.max(0, ...rs.map((r) => (r.kind === 'percent_move' ? r.params.windowSeconds : 0)))
      need.trades = { from: lo - window * 1_000_000, to: hi }
    }
    const periods = new Map<AlertInterval, number>()
    for (const r of rs)
      if (r.kind === 'volume_spike')
        periods.set(r.params.interval, Math.max(periods.get(r.params.interval) ?? 0, r.params.period))
    for (const [interval, period] of periods) {
      const ms = INTERVAL_MS[interval]
      const first = bucketStart(interval, Math.floor(lo / 1000))
      need.bars.push({
        interval,
        from: first - period * ms,
        to: bucketStart(interval, Math.floor(hi / 1000)),
        before: period + 1,
      })
    }
    const rsi = rsiPeriods(rs)
    if (rsi.size > 0)
      need.series = [...rsi].map(([interval, ps]) => ({
        interval,
        periods: [...ps],
        from: bucketStart(interval, Math.floor(lo / 1000)),
      }))
    needs.push(need)
  }
  return needs
}

/** The RSI periods of the indicator rules, per interval. */
export function rsiPeriods(rules: AlertRule[]): Map<AlertInterval, Set<number>> {
  const out = new Map<AlertInterval, Set<number>>()
  for (const r of rules)
    if (r.kind === 'indicator_cross') {
      const ps = out.get(r.params.interval) ?? new Set<number>()
      out.set(r.params.interval, ps.add(r.params.period))
    }
  return out
}

/** The firing id: hex sha-256 of rule id and event, 32 digits (the webhook's Idempotency-Key). */
export function firingId(ruleId: string, event: string): string {
  return createHash('sha256').update(`${ruleId}\0${event}`).digest('hex').slice(0, 32)
}

export const eventOf = (t: Pick<Tick, 'topic' | 'partition' | 'offset'>): string =>
  `${t.topic}/${t.partition}/${t.offset}`

/**
 * A rule's condition at a time: undefined when it cannot be measured (no price yet, no volume…).
 * The value it measured is only worked out when asked (a firing), not at every read.
 */
type Reading = { hit: boolean; value: string } | undefined
const HIT = { hit: true, value: '' }
const MISS = { hit: false, value: '' }
/** `value` is only used when `valued` (callers pass '' otherwise, not working it out). */
const reading = (hit: boolean, valued: boolean, value: string): Reading =>
  valued ? { hit, value } : hit ? HIT : MISS

/**
 * The firings of a batch. `ticks` are the trades the batch stores; each symbol's trades are taken
 * in offset order (arrival order: a symbol lives in one partition). `history` is changed.
 */
export function evaluateAlerts(rules: AlertRule[], ticks: Tick[], history: AlertHistory): AlertFiring[] {
  const bySymbol = rulesBySymbol(rules)
  const effects = new Map<string, Effects>()
  for (const [symbol, rs] of bySymbol) effects.set(symbol, effectsOf(symbol, rs))
  // Prices, volumes and rule parameters are read as decimals many times per trade (each rule
  // before and after it): each distinct text is parsed once per batch.
  const parsed = new Map<string, Dec>()
  const dec = (text: string): Dec => {
    let d = parsed.get(text)
    if (d === undefined) parsed.set(text, (d = parseDec(text)))
    return d
  }
  const ordered = ticks
    .filter((t) => bySymbol.has(t.symbol))
    .sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0))
  const out: AlertFiring[] = []
  for (const t of ordered) {
    const rs = bySymbol.get(t.symbol)!
    const before = rs.map((r) => read(r, t, history, dec, false)?.hit)
    apply(t, effects.get(t.symbol)!, history)
    rs.forEach((r, i) => {
      if (before[i] !== false || read(r, t, history, dec, false)?.hit !== true) return
      const event = eventOf(t)
      out.push({
        id: firingId(r.id, event),
        ruleId: r.id,
        event,
        symbol: t.symbol,
        ts: t.ts,
        price: t.price,
        value: read(r, t, history, dec, true)!.value,
        webhookUrl: r.webhookUrl,
      })
    })
  }
  return out
}

/**
 * What a trade of a symbol changes in the history, given the symbol's rules: each with its history
 * key (symbol and interval), built once per batch rather than per trade.
 */
interface Effects {
  trades: boolean
  /** The RSI series kept. */
  series: { interval: AlertInterval; key: string }[]
  /** The volume bars kept. */
  bars: { interval: AlertInterval; key: string }[]
}

function effectsOf(symbol: string, rules: AlertRule[]): Effects {
  const volumes = new Set<AlertInterval>()
  for (const r of rules) if (r.kind === 'volume_spike') volumes.add(r.params.interval)
  const keyed = (interval: AlertInterval) => ({ interval, key: `${symbol}\0${interval}` })
  return {
    trades: rules.some(usesTrades),
    series: [...rsiPeriods(rules).keys()].map(keyed),
    bars: [...volumes].map(keyed),
  }
}

function read(r: AlertRule, t: Tick, h: AlertHistory, dec: (text: string) => Dec, valued: boolean): Reading {
  const up = r.direction === 'up'
  switch (r.kind) {
    case 'price_cross': {
      const p = priceAt(h, t.symbol, t.micros)
      if (p === undefined) return undefined
      const c = cmp(dec(p), dec(r.params.level))
      return reading(up ? c >= 0 : c <= 0, valued, p)
    }
    case 'percent_move': {
      const p = priceAt(h, t.symbol, t.micros)
      const ref = priceAt(h, t.symbol, t.micros - r.params.windowSeconds * 1_000_000)
      if (p === undefined || ref === undefined || isZero(dec(ref))) return undefined
      // (p − ref) / ref × 100 against ±percent, multiplied out (ref > 0)
      const move = mul(sub(dec(p), dec(ref)), decInt(100))
      const bound = mul(dec(r.params.percent), dec(ref))
      const hit = up ? cmp(move, bound) >= 0 : cmp(move, neg(bound)) <= 0
      return reading(hit, valued, valued ? divText(move, dec(ref), 4) : '')
    }
    case 'volume_spike': {
      const bars = h.bars.get(`${t.symbol}\0${r.params.interval}`) ?? []
      const ms = INTERVAL_MS[r.params.interval]
      const b = bucketStart(r.params.interval, t.tsMs)
      let sum = ZERO
      for (let k = 1; k <= r.params.period; k++) {
        const prev = findBar(bars, b - k * ms)
        if (prev) sum = add(sum, dec(prev.volume))
      }
      if (isZero(sum)) return undefined
      const vol = dec(findBar(bars, b)?.volume ?? '0')
      // vol ≥ multiple × sum / period
      const scaled = mul(vol, decInt(r.params.period))
      const c = cmp(scaled, mul(dec(r.params.multiple), sum))
      return reading(up ? c >= 0 : c <= 0, valued, valued ? divText(scaled, sum, 4) : '')
    }
    case 'indicator_cross': {
      // The RSI GET /api/v1/indicators serves for the bar, compared as the decimal it prints.
      const series = h.series.get(`${t.symbol}\0${r.params.interval}`)
      const rsi = series?.rsiAt(r.params.period, bucketStart(r.params.interval, t.tsMs))
      if (rsi === undefined || rsi === null) return undefined
      const c = cmp(dec(rsi), dec(r.params.threshold))
      return reading(up ? c >= 0 : c <= 0, valued, rsi)
    }
  }
}

function findBar(bars: HistoryBar[], bucket: number): HistoryBar | undefined {
  const i = upperIndex(bars, bucket) - 1
  return i >= 0 && bars[i]!.bucket === bucket ? bars[i] : undefined
}

/** The price of the last known trade at or before `micros` (event time; ties by seq). */
export function priceAt(h: AlertHistory, symbol: string, micros: number): string | undefined {
  const trades = h.trades.get(symbol)
  if (!trades) return undefined
  const at = upperIndexBy(trades, micros, (t) => t.micros)
  return at > 0 ? trades[at - 1]!.price : undefined
}

/** Adds trade t to what its rules read: the symbol's trades and the bars of their intervals. */
function apply(t: Tick, effects: Effects, h: AlertHistory): void {
  if (effects.trades) {
    let list = h.trades.get(t.symbol)
    if (!list) h.trades.set(t.symbol, (list = []))
    let i = list.length
    while (i > 0 && later(list[i - 1]!.micros, list[i - 1]!.seq, t.micros, t.offset)) i--
    list.splice(i, 0, { micros: t.micros, seq: t.offset, price: t.price })
  }
  const barTrade = { micros: t.micros, seq: t.offset, price: t.price, size: t.size }
  for (const { interval, key } of effects.series) {
    let series = h.series.get(key)
    if (!series) h.series.set(key, (series = new CloseSeries([])))
    series.add(bucketStart(interval, t.tsMs), barTrade)
  }
  for (const { interval, key } of effects.bars) {
    let bars = h.bars.get(key)
    if (!bars) h.bars.set(key, (bars = []))
    addTrade(bars, bucketStart(interval, t.tsMs), barTrade)
  }
}
