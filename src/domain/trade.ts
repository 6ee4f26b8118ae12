// The trade event on the wire: one JSON object per Kafka message, key = symbol.
//   {"v":1,"type":"trade","symbol":"AAPL","ts":"2026-11-24T15:30:00.123456Z","price":"189.23",
//    "size":"100","source":"finnhub","id":"…","recvTs":"…"}
// Prices and sizes are exact decimal strings; nothing between a source and PostgreSQL turns them
// into binary floating point.

export interface Trade {
  v: 1
  type: 'trade'
  symbol: string
  /** Event time (the exchange's / provider's timestamp), ISO-8601 UTC, up to microseconds. */
  ts: string
  price: string
  size: string
  source: string
  /** The provider's trade id when it has one. */
  id?: string
  /** When tickflow received it. */
  recvTs?: string
  /** Sale conditions, normalised (src/domain/conditions.ts); absent when the provider sent none. */
  conditions?: string[]
}

/**
 * A record a source read but could not turn into a trade (a replay line that is not JSON, a row
 * without a readable price). It travels the pipeline as its own text, marked with
 * UNPARSED_HEADER, and becomes an `unparsed_record` dead letter that keeps the line whole.
 */
export interface UnparsedRecord {
  type: 'unparsed'
  /** The symbol when one could be read, else ''. */
  key: string
  /** The record as the source read it. */
  line: string
  /** Why it is not a trade, e.g. `price "abc" cannot be read`. */
  reason: string
}

/** The message header that marks an UnparsedRecord; its value is the reason. */
export const UNPARSED_HEADER = 'tickflow-unparsed'

export const isUnparsed = (r: Trade | UnparsedRecord): r is UnparsedRecord => r.type === 'unparsed'

export function encodeTrade(t: Trade): string {
  return JSON.stringify(t)
}

/** Milliseconds since the epoch → ISO string with microseconds (`…T15:30:00.123000Z`). */
export function isoMicros(ms: number, micros = 0): string {
  const iso = new Date(ms).toISOString() // …sss Z
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`
}
