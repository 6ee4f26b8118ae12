// Validation of every message before it is stored: pure functions, no I/O. A message is either a
// Tick to store or a dead letter with a reason from DeadLetterReason (a stable, documented set
// that labels tickflow_dead_letters_total).
import { z } from 'zod'
import type { BusMessage } from '../bus/types.ts'

export type DeadLetterReason =
  | 'malformed_json'
  | 'schema'
  | 'unsupported_version'
  | 'bad_symbol'
  | 'bad_price'
  | 'bad_size'
  | 'bad_timestamp'
  | 'timestamp_skew'
  | 'key_mismatch'
  | 'duplicate_trade_id'
  | 'oversized'
  // daily-bars import only
  | 'missing_price'
  | 'inconsistent_bar'

export interface Tick {
  symbol: string
  ts: string
  /** Event time in ms, for bucketing and latency. */
  tsMs: number
  price: string
  size: string
  source: string
  tradeId: string | null
  recvTs: string | null
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

export interface ValidationOptions {
  /** Reject trades whose event time is further than this from now (live sources); undefined = off. */
  maxSkewMs?: number
  now?: () => number
  maxMessageBytes?: number
}

const wire = z.object({
  v: z.number(),
  type: z.literal('trade'),
  symbol: z.string(),
  ts: z.string(),
  price: z.string(),
  size: z.string(),
  source: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'source must be 1-64 of A-Z a-z 0-9 _ . : -'),
  // Control characters (NUL above all) cannot be stored in a text column: refuse them here.
  id: z
    .string()
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f]{1,128}$/, 'id must be 1-128 printable characters')
    .optional(),
  recvTs: z.string().optional(),
})

const SYMBOL = /^[A-Z0-9][A-Z0-9.\-/:]{0,19}$/
// Up to 12 integer digits: a price of a trillion or more is an error, not a trade.
const PRICE = /^(0|[1-9]\d{0,11})(\.\d{1,10})?$/
const SIZE = /^(0|[1-9]\d{0,14})(\.\d{1,12})?$/
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/

export type Classified = { ok: true; tick: Tick } | { ok: false; dead: DeadLetter }

export function classify(m: BusMessage, options: ValidationOptions = {}): Classified {
  const dead = (reason: DeadLetterReason, detail: string): Classified => ({
    ok: false,
    dead: {
      reason,
      detail: printable(detail),
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      key: printable(m.key),
      payload: m.value,
    },
  })
  if (options.maxMessageBytes !== undefined && m.value.length > options.maxMessageBytes)
    return dead('oversized', `${m.value.length} bytes > ${options.maxMessageBytes}`)
  let json: unknown
  try {
    json = JSON.parse(m.value.toString('utf8'))
  } catch (err) {
    return dead('malformed_json', err instanceof Error ? err.message : 'not JSON')
  }
  const parsed = wire.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return dead('schema', issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch')
  }
  const t = parsed.data
  if (t.v !== 1) return dead('unsupported_version', `v=${t.v}`)
  if (!SYMBOL.test(t.symbol)) return dead('bad_symbol', `symbol ${JSON.stringify(t.symbol.slice(0, 40))}`)
  if (m.key !== '' && m.key !== t.symbol)
    return dead('key_mismatch', `key ${JSON.stringify(m.key.slice(0, 40))} ≠ symbol ${t.symbol}`)
  if (!PRICE.test(t.price) || /^0(\.0*)?$/.test(t.price))
    return dead('bad_price', `price ${JSON.stringify(t.price.slice(0, 40))}`)
  if (!SIZE.test(t.size)) return dead('bad_size', `size ${JSON.stringify(t.size.slice(0, 40))}`)
  const tsMs = parseIso(t.ts)
  if (tsMs === undefined) return dead('bad_timestamp', `ts ${JSON.stringify(t.ts.slice(0, 40))}`)
  if (options.maxSkewMs !== undefined) {
    const now = (options.now ?? Date.now)()
    if (Math.abs(tsMs - now) > options.maxSkewMs)
      return dead('timestamp_skew', `ts ${t.ts} is ${Math.round((tsMs - now) / 1000)} s from now`)
  }
  let recvTs: string | null = null
  if (t.recvTs !== undefined) {
    if (parseIso(t.recvTs) === undefined)
      return dead('bad_timestamp', `recvTs ${JSON.stringify(t.recvTs.slice(0, 40))}`)
    recvTs = t.recvTs
  }
  return {
    ok: true,
    tick: {
      symbol: t.symbol,
      ts: t.ts,
      tsMs,
      price: t.price,
      size: t.size,
      source: t.source,
      tradeId: t.id ?? null,
      recvTs,
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      raw: m.value,
    },
  }
}

/** Strict ISO-8601 UTC (`Z`) with a real calendar date, years 1970–2199; ms since the epoch. */
export function parseIso(s: string): number | undefined {
  const m = ISO.exec(s)
  if (!m) return undefined
  const ms = Date.parse(s.length > 24 ? `${s.slice(0, 23)}Z` : s)
  if (!Number.isFinite(ms)) return undefined
  const d = new Date(ms)
  if (
    d.getUTCFullYear() !== Number(m[1]) ||
    d.getUTCMonth() + 1 !== Number(m[2]) ||
    d.getUTCDate() !== Number(m[3])
  )
    return undefined
  if (Number(m[1]) < 1970 || Number(m[1]) > 2199) return undefined
  return ms
}

/** Text columns cannot hold NUL; dead letters keep the exact bytes in `payload` anyway. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000/g, '\uFFFD')
}

export function duplicateOf(t: Tick): DeadLetter {
  return {
    reason: 'duplicate_trade_id',
    detail: `trade id ${t.tradeId} of source ${t.source} was already stored`,
    topic: t.topic,
    partition: t.partition,
    offset: t.offset,
    key: t.symbol,
    payload: t.raw,
  }
}
