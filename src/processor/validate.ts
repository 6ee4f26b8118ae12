// Validation of every message before it is stored: pure functions, no I/O. A message is either a
// Tick to store or a dead letter with a reason from DeadLetterReason (a stable, documented set
// that labels tickflow_dead_letters_total).
import { z } from 'zod'
import type { BusMessage } from '../bus/types.ts'
import type { DeadLetter, DeadLetterReason, Tick } from '../domain/types.ts'
import { canonicalTime, parseMicros } from '../domain/time.ts'
import { UNPARSED_HEADER } from '../domain/trade.ts'
import { isAvroFramed, schemaIdOf, type Undecodable } from '../bus/wire.ts'
import { isSymbol } from '../domain/symbol.ts'

export interface ValidationOptions {
  /** Reject trades whose event time is further than this from now (live sources); undefined = off. */
  maxSkewMs?: number
  /**
   * Reject trades whose event time is more than this ahead of now (reason future_timestamp);
   * undefined = off. Past event times are always allowed: replays of history are normal use.
   */
  maxFutureMs?: number
  now?: () => number
  /** Messages larger than this are dead-lettered as `oversized`; undefined = no limit. */
  maxMessageBytes?: number
  /** Decodes Avro-framed values (Confluent wire format) into the JSON envelope's shape. */
  avro?: { decode(value: Buffer): Record<string, unknown> | Undecodable }
}

const SOURCE = /^[A-Za-z0-9_.:-]{1,64}$/
// eslint-disable-next-line no-control-regex
const CONDITION = /^[^\u0000-\u001f\u007f]{1,16}$/

export const wire = z.object({
  v: z.number(),
  type: z.literal('trade'),
  symbol: z.string(),
  ts: z.string(),
  price: z.string(),
  size: z.string(),
  source: z.string().regex(SOURCE, 'source must be 1-64 of A-Z a-z 0-9 _ . : -'),
  id: z.string().optional(),
  recvTs: z.string().optional(),
  conditions: z
    .array(z.string().regex(CONDITION, 'a condition is 1-16 printable characters'))
    .max(32)
    .optional(),
})

type WireTrade = z.infer<typeof wire>

/**
 * The schema's check made in place: true exactly when `wire` accepts the value (a property test
 * holds the two equal). A trade passes here without zod's copy of every message, about a tenth of
 * the processor's garbage; anything else goes through `wire` for its error.
 */
export function isWireTrade(j: unknown): j is WireTrade {
  if (typeof j !== 'object' || j === null) return false
  const o = j as Record<string, unknown>
  if (typeof o.v !== 'number' || !Number.isFinite(o.v) || o.type !== 'trade') return false
  if (typeof o.symbol !== 'string' || typeof o.ts !== 'string') return false
  if (typeof o.price !== 'string' || typeof o.size !== 'string') return false
  if (typeof o.source !== 'string' || !SOURCE.test(o.source)) return false
  if (o.id !== undefined && typeof o.id !== 'string') return false
  if (o.recvTs !== undefined && typeof o.recvTs !== 'string') return false
  const c = o.conditions
  if (c === undefined) return true
  if (!Array.isArray(c) || c.length > 32) return false
  for (const x of c) if (typeof x !== 'string' || !CONDITION.test(x)) return false
  return true
}

// Up to 12 integer digits: a price of a trillion or more is an error, not a trade.
const PRICE = /^(0|[1-9]\d{0,11})(\.\d{1,10})?$/
const SIZE = /^(0|[1-9]\d{0,14})(\.\d{1,12})?$/
// Control characters (NUL above all) cannot be stored in a text column.
// eslint-disable-next-line no-control-regex
const ID = /^[^\u0000-\u001f\u007f]{1,128}$/

export type Classified = { ok: true; tick: Tick } | { ok: false; dead: DeadLetter }

/** Why a trade id cannot be stored as given, or undefined when it can. */
function badTradeId(id: string): string | undefined {
  // A lone UTF-16 surrogate (JSON allows "\ud800") has no UTF-8 form: encoding would turn every
  // such id into the same replacement character, and distinct ids would collide.
  if (!id.isWellFormed()) return 'id holds a lone UTF-16 surrogate (not valid Unicode)'
  if (!ID.test(id)) return 'id must be 1-128 printable characters'
  return undefined
}

export function classify(m: BusMessage, options: ValidationOptions = {}): Classified {
  const dead = (reason: DeadLetterReason, detail: string): Classified => ({
    ok: false,
    dead: {
      reason,
      detail: printable(detail),
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      key: printable(m.key ?? ''),
      payload: m.value,
    },
  })
  if (options.maxMessageBytes !== undefined && m.value.length > options.maxMessageBytes)
    return dead('oversized', `${m.value.length} bytes > ${options.maxMessageBytes}`)
  const unparsed = m.headers[UNPARSED_HEADER]
  if (unparsed !== undefined) return dead('unparsed_record', unparsed)
  let json: unknown
  if (isAvroFramed(m.value)) {
    const decoded = options.avro
      ? options.avro.decode(m.value)
      : {
          reason: 'unknown_schema' as const,
          detail: `schema id ${schemaIdOf(m.value)}, but no schema registry is configured`,
        }
    if (isUndecodable(decoded)) return dead(decoded.reason, decoded.detail)
    json = decoded
  } else {
    try {
      json = JSON.parse(m.value.toString('utf8'))
    } catch (err) {
      return dead('malformed_json', err instanceof Error ? err.message : 'not JSON')
    }
  }
  let t: WireTrade
  if (isWireTrade(json)) t = json
  else {
    const parsed = wire.safeParse(json)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      return dead(
        'schema',
        issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch',
      )
    }
    t = parsed.data
  }
  if (t.v !== 1) return dead('unsupported_version', `v=${t.v}`)
  if (!isSymbol(t.symbol)) return dead('bad_symbol', `symbol ${JSON.stringify(t.symbol.slice(0, 40))}`)
  // The key decides the partition, so per-symbol order holds only when key = symbol.
  if (m.key === null) return dead('missing_key', `no message key; expected ${t.symbol}`)
  if (m.key !== t.symbol)
    return dead('key_mismatch', `key ${JSON.stringify(m.key.slice(0, 40))} ≠ symbol ${t.symbol}`)
  if (!PRICE.test(t.price) || /^0(\.0*)?$/.test(t.price))
    return dead('bad_price', `price ${JSON.stringify(t.price.slice(0, 40))}`)
  if (!SIZE.test(t.size)) return dead('bad_size', `size ${JSON.stringify(t.size.slice(0, 40))}`)
  if (t.id !== undefined) {
    const why = badTradeId(t.id)
    if (why) return dead('bad_trade_id', why)
  }
  const micros = parseMicros(t.ts)
  if (micros === undefined) return dead('bad_timestamp', `ts ${JSON.stringify(t.ts.slice(0, 40))}`)
  const tsMs = Math.floor(micros / 1000)
  const now = (options.now ?? Date.now)()
  if (options.maxSkewMs !== undefined && Math.abs(tsMs - now) > options.maxSkewMs)
    return dead('timestamp_skew', `ts ${t.ts} is ${Math.round((tsMs - now) / 1000)} s from now`)
  if (options.maxFutureMs !== undefined && tsMs - now > options.maxFutureMs)
    return dead('future_timestamp', `ts ${t.ts} is ${Math.round((tsMs - now) / 1000)} s ahead of now`)
  let recvTs: string | null = null
  if (t.recvTs !== undefined) {
    const recv = parseMicros(t.recvTs)
    if (recv === undefined) return dead('bad_timestamp', `recvTs ${JSON.stringify(t.recvTs.slice(0, 40))}`)
    recvTs = canonicalTime(t.recvTs)
  }
  return {
    ok: true,
    tick: {
      symbol: t.symbol,
      ts: canonicalTime(t.ts),
      micros,
      tsMs,
      price: t.price,
      size: t.size,
      source: t.source,
      tradeId: t.id ?? null,
      recvTs,
      ...(t.conditions && t.conditions.length > 0 ? { conditions: t.conditions } : {}),
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      raw: m.value,
    },
  }
}

function isUndecodable(d: Record<string, unknown> | Undecodable): d is Undecodable {
  return (d.reason === 'unknown_schema' || d.reason === 'undecodable') && typeof d.detail === 'string'
}

/** Strict ISO-8601 UTC (`Z`) with a real calendar date, years 1970–2199; ms since the epoch. */
export function parseIso(s: string): number | undefined {
  const micros = parseMicros(s)
  return micros === undefined ? undefined : Math.floor(micros / 1000)
}

/** Text columns cannot hold NUL; dead letters keep the exact bytes in `payload` anyway. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000/g, '\uFFFD').toWellFormed()
}

export function duplicateOf(t: Tick): DeadLetter {
  return {
    reason: 'duplicate_trade_id',
    detail: printable(`trade id ${t.tradeId} of source ${t.source} was already stored`),
    topic: t.topic,
    partition: t.partition,
    offset: t.offset,
    key: t.symbol,
    payload: t.raw,
  }
}
