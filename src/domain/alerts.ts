// Alert rules a user creates (POST /api/v1/alerts) and the firings the processor stores with the
// batch that caused them. Types and constants only.
import type { CloseSeries, HistoryBar } from './close-series.ts'

export type { HistoryBar }

export const ALERT_KINDS = ['price_cross', 'percent_move', 'volume_spike', 'indicator_cross'] as const
export type AlertKind = (typeof ALERT_KINDS)[number]

/** Bar intervals a bar-based rule may use (daily bars follow a time zone; alerts keep to UTC). */
export const ALERT_INTERVALS = ['1s', '1m', '5m', '1h'] as const
export type AlertInterval = (typeof ALERT_INTERVALS)[number]

export type AlertDirection = 'up' | 'down'

export type AlertSpec =
  /** The last trade price crosses `level`. */
  | { kind: 'price_cross'; params: { level: string } }
  /** The price moves `percent` % or more from the last price at least `windowSeconds` earlier. */
  | { kind: 'percent_move'; params: { percent: string; windowSeconds: number } }
  /** A bar's volume reaches `multiple` × the mean volume of the `period` bars before it. */
  | { kind: 'volume_spike'; params: { multiple: string; period: number; interval: AlertInterval } }
  /** An indicator over bar closes crosses `threshold` (RSI: 0–100). */
  | {
      kind: 'indicator_cross'
      params: { indicator: 'rsi'; period: number; interval: AlertInterval; threshold: string }
    }

export type AlertRule = AlertSpec & {
  id: string
  name: string | null
  symbols: string[]
  direction: AlertDirection
  webhookUrl: string | null
}

/** One firing: rule `ruleId` fired at trade `event` (`topic/partition/offset`). */
export interface AlertFiring {
  /** Stable over replays: the hex of sha-256 over the rule id and the event (the idempotency key). */
  id: string
  ruleId: string
  event: string
  symbol: string
  /** Event time of the trade that fired it (as stored: six fraction digits, UTC). */
  ts: string
  price: string
  /** The rule's quantity after the trade: the price, the move in %, the volume ratio or the RSI. */
  value: string
  /** Where the firing is posted; null = no webhook. */
  webhookUrl: string | null
}

export interface HistoryTrade {
  micros: number
  seq: bigint
  price: string
}

/**
 * What the rules read for one batch (kept between batches or read by the store); evaluation adds
 * the batch's trades to it as it goes.
 */
export interface AlertHistory {
  /** Per symbol, sorted by (micros, seq). */
  trades: Map<string, HistoryTrade[]>
  /** Per `${symbol}\0${interval}`, sorted by bucket: the bars around the batch (volume spikes). */
  bars: Map<string, HistoryBar[]>
  /** Per `${symbol}\0${interval}`: the whole series, for indicator rules. */
  series: Map<string, CloseSeries>
}

/** What the evaluator needs of the store for one symbol of a batch. */
export interface HistoryNeed {
  symbol: string
  /** Trades with micros in [from, to], and the last one before `from`; absent = none needed. */
  trades?: { from: number; to: number }
  /** Bars with bucket in [from, to] (ms), and the `before` last bars before `from`. */
  bars: { interval: AlertInterval; from: number; to: number; before: number }[]
  /** Whole bar series (indicator rules): the RSI periods read and the earliest bucket changed. */
  series?: { interval: AlertInterval; periods: number[]; from: number }[]
}
