// An independent computation of alert firings, by brute force from the trades in arrival order: at
// each trade, every quantity is recomputed from the whole list of trades known before it and with
// it (no history window, no incremental bars), with integers at a fixed scale. It implements the
// definition in docs/analytics.md ("Alerts"), not the processor's code. The RSI is trading-signals'
// (a test-only dependency) over every bar close up to the trade's bar, printed with the 8 decimals
// GET /api/v1/indicators prints.
import { RSI } from 'trading-signals'
import type { AlertRule } from '../../src/domain/alerts.ts'

export interface OracleTrade {
  /** What a firing of this trade is reported as (e.g. its trade id or topic/partition/offset). */
  key: string
  symbol: string
  micros: number
  price: string
  size: string
}

const SCALE = 12

/** A decimal as an integer of 10^-12 units. */
function fixed(text: string): bigint {
  const [whole, frac = ''] = text.split('.')
  return BigInt(whole! + frac.padEnd(SCALE, '0').slice(0, SCALE))
}

const IV: Record<string, number> = {
  '1s': 1_000_000,
  '1m': 60_000_000,
  '5m': 300_000_000,
  '1h': 3_600_000_000,
}

interface Known {
  micros: number
  seq: number
  price: bigint
  text: string
  size: bigint
}

/** Last known trade at or before `micros` (ties: the later arrival). */
function at(known: Known[], micros: number): Known | undefined {
  let best: Known | undefined
  for (const k of known)
    if (
      k.micros <= micros &&
      (!best || k.micros > best.micros || (k.micros === best.micros && k.seq > best.seq))
    )
      best = k
  return best
}

/** Bars of one interval: bucket → { volume, close }, every bucket recomputed from the list. */
function bars(known: Known[], width: number): Map<number, { volume: bigint; last: Known }> {
  const out = new Map<number, { volume: bigint; last: Known }>()
  for (const k of known) {
    const b = Math.floor(k.micros / width) * width
    const cur = out.get(b)
    if (!cur) out.set(b, { volume: k.size, last: k })
    else {
      cur.volume += k.size
      if (k.micros > cur.last.micros || (k.micros === cur.last.micros && k.seq > cur.last.seq)) cur.last = k
    }
  }
  return out
}

/** True/false: the condition at time `micros` over `known`; undefined: not measurable. */
function condition(r: AlertRule, known: Known[], micros: number): boolean | undefined {
  const up = r.direction === 'up'
  if (r.kind === 'price_cross') {
    const p = at(known, micros)
    if (!p) return undefined
    const level = fixed(r.params.level)
    return up ? p.price >= level : p.price <= level
  }
  if (r.kind === 'percent_move') {
    const p = at(known, micros)
    const ref = at(known, micros - r.params.windowSeconds * 1_000_000)
    if (!p || !ref || ref.price === 0n) return undefined
    const move = (p.price - ref.price) * 100n * 10n ** BigInt(SCALE)
    const bound = fixed(r.params.percent) * ref.price
    return up ? move >= bound : move <= -bound
  }
  const width = IV[r.params.interval]!
  const series = bars(known, width)
  const b = Math.floor(micros / width) * width
  if (r.kind === 'volume_spike') {
    let sum = 0n
    for (let i = 1; i <= r.params.period; i++) sum += series.get(b - i * width)?.volume ?? 0n
    if (sum === 0n) return undefined
    const vol = series.get(b)?.volume ?? 0n
    return vol * BigInt(r.params.period) * 10n ** BigInt(SCALE) >= fixed(r.params.multiple) * sum
  }
  const closes = [...series.entries()]
    .filter(([bucket]) => bucket <= b)
    .sort((x, y) => x[0] - y[0])
    .map(([, v]) => v.last.text)
  const rsi = new RSI(r.params.period)
  let value: number | null = null
  for (const c of closes) value = rsi.update(Number(c), false)
  if (value === null) return undefined
  const lhs = fixed(value.toFixed(8))
  const rhs = fixed(r.params.threshold)
  return up ? lhs >= rhs : lhs <= rhs
}

/** The oracle's trades for processor items of partition 0, keyed as the processor reports them. */
export function oracleTradesOf(
  items: {
    offset: bigint | number
    tick?: { symbol: string; micros: number; price: string; size: string }
  }[],
): OracleTrade[] {
  return items.map((i) => ({
    key: `ticks/0/${i.offset}`,
    symbol: i.tick!.symbol,
    micros: i.tick!.micros,
    price: i.tick!.price,
    size: i.tick!.size,
  }))
}

/** `${rule id} ${trade key}` of every firing, for trades given in arrival order. */
export function oracleFirings(rules: AlertRule[], trades: OracleTrade[]): Set<string> {
  const known = new Map<string, Known[]>()
  const out = new Set<string>()
  trades.forEach((t, seq) => {
    const list = known.get(t.symbol) ?? []
    known.set(t.symbol, list)
    const k: Known = { micros: t.micros, seq, price: fixed(t.price), text: t.price, size: fixed(t.size) }
    const mine = rules.filter((r) => r.symbols.includes(t.symbol))
    const before = mine.map((r) => condition(r, list, t.micros))
    list.push(k)
    mine.forEach((r, i) => {
      if (before[i] === false && condition(r, list, t.micros) === true) out.add(`${r.id} ${t.key}`)
    })
  })
  return out
}
