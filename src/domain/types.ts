// The domain every stage speaks: a validated trade (Tick), a dead letter and its reasons, bar
// intervals, stored bars, a batch's bar deltas, and the write plan the processor hands the store.
// Types and constants only: sources, bus, processor, store and api import this module, it imports
// nothing of theirs.
import type { AlertFiring } from './alerts.ts'

export const INTERVALS = ['1s', '1m', '5m', '1h', '1d'] as const
export type Interval = (typeof INTERVALS)[number]

export type DeadLetterReason =
  | 'malformed_json'
  | 'schema'
  | 'unsupported_version'
  | 'bad_symbol'
  | 'bad_price'
  | 'bad_size'
  | 'bad_timestamp'
  | 'timestamp_skew'
  | 'future_timestamp'
  | 'key_mismatch'
  | 'missing_key'
  | 'bad_trade_id'
  | 'duplicate_trade_id'
  | 'oversized'
  | 'unstorable'
  | 'unknown_schema'
  | 'undecodable'
  | 'unparsed_record'
  // daily-bars import only
  | 'missing_price'
  | 'inconsistent_bar'

/** A validated trade, ready to store. Every time field derives from one parse (`micros`). */
export interface Tick {
  symbol: string
  /** Event time as stored: ISO-8601 UTC with exactly six fraction digits, written from `micros`. */
  ts: string
  /** Event time in µs since the epoch (the storage precision; extra digits truncated). */
  micros: number
  /** Event time in ms (floor of `micros`), for bucketing and latency. */
  tsMs: number
  price: string
  size: string
  source: string
  tradeId: string | null
  recvTs: string | null
  /** The provider's sale-condition codes (Avro v2 / JSON `conditions`); null when none were sent. */
  conditions?: string[] | null
  topic: string
  partition: number
  offset: bigint
  /** The original message bytes (kept for a dead letter if the store finds a duplicate). */
  raw: Buffer
}

export interface DeadLetter {
  reason: DeadLetterReason
  detail: string
  topic: string
  partition: number
  offset: bigint
  key: string
  payload: Buffer
}

/** One consumed message, classified: a tick to store or a dead letter. */
export interface BatchItem {
  topic: string
  partition: number
  offset: bigint
  tick?: Tick
  dead?: DeadLetter
}

/**
 * A bar as stored (numerics as PostgreSQL prints them). open/close are null when no trade of the
 * bar may update the last price, high/low when none may update them (src/domain/conditions.ts):
 * a bar of an official closing print or odd lots only has a volume and no prices.
 */
export interface Bar {
  symbol: string
  interval: Interval
  bucket: string
  open: string | null
  high: string | null
  low: string | null
  close: string | null
  volume: string
  vwap: string | null
  trades: string
}

/** One batch's contribution to a bar, merged into the stored bar in the batch's transaction. */
export interface PartialBar {
  symbol: string
  interval: Interval
  /** Bucket start, ms since the epoch. */
  bucket: number
  /** null (with openTs, openSeq, close…) when no trade of the batch may update the last price. */
  open: string | null
  /** null (with low) when no trade of the batch may update high/low. */
  high: string | null
  low: string | null
  close: string | null
  /** Σ size of the trades that count in volume ('0' when none does). */
  volume: string
  pv: string
  /** Every trade of the batch in the bar, counted or not. */
  trades: number
  openTs: string | null
  openSeq: bigint | null
  closeTs: string | null
  closeSeq: bigint | null
}

/** The next offset to consume of one partition, for one consumer group. */
export interface PartitionOffset {
  topic: string
  partition: number
  next: bigint
}

/** What one batch changes in the store, all in one transaction. */
export interface WritePlan {
  ticks: Tick[]
  bars: PartialBar[]
  deadLetters: DeadLetter[]
  offsets: PartitionOffset[]
  /** Messages skipped because their offsets were already stored (or repeated in the batch). */
  skipped: number
  /** Alert firings caused by the batch's trades (src/processor/alerts.ts); absent = none. */
  firings?: AlertFiring[]
  /** Partitions whose first new message lies past the offset stored before it; absent = none. */
  gaps?: OffsetGap[]
}

/**
 * Offsets a batch passed over: the group had stored up to `from` (next offset), and the batch's
 * first new message of the partition is at `to`. The topic held no message between them when it
 * was read: deleted by retention (or compacted away, or transaction markers).
 */
export interface OffsetGap {
  topic: string
  partition: number
  from: bigint
  to: bigint
}
