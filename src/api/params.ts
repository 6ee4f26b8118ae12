// Parsing of the API's own parameter formats: times (ISO-8601 or epoch milliseconds), symbols and
// keyset cursors. Every failure is a BadRequestError naming the parameter in words a person reads;
// anything accepted here is a value PostgreSQL can hold, so no bad input reaches the database.
import { BadRequestError } from '../errors.ts'
import { SYMBOL_RULE, isSymbol } from '../domain/symbol.ts'

/** Microseconds since the epoch; the storage precision of timestamptz. */
export type Micros = bigint

// Years 0001–9999: what ISO-8601 writes with four digits and timestamptz holds.
const MIN: Micros = -62135596800000000n
const MAX: Micros = 253402300799999999n
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/
const EPOCH_MS = /^-?\d{1,16}$/
export const TIME_RULE = 'an ISO-8601 time (e.g. 2024-08-08 or 2024-08-08T12:00:00Z) or epoch milliseconds'

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return month === 2 && leap ? 29 : DAYS[month - 1]!
}

function fromIso(m: RegExpExecArray): Micros | string {
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m
  const [year, month, day] = [Number(y), Number(mo), Number(d)]
  if (month < 1 || month > 12) return `has no month ${mo}`
  if (day < 1 || day > daysIn(year, month)) return `has no day ${d} in ${y}-${mo}`
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return `has no time ${h}:${mi}:${s}`
  let offsetMin = 0
  if (zone !== 'Z' && zone !== 'z') {
    const oh = Number(zone.slice(1, 3))
    const om = zone.length > 3 ? Number(zone.slice(-2)) : 0
    if (oh > 23 || om > 59) return `has no offset ${zone}`
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om)
  }
  // setUTCFullYear, unlike Date.UTC, takes years 0–99 literally.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(Number(h), Number(mi) - offsetMin, Number(s), 0)
  const digits = frac.padEnd(9, '0')
  // Extra digits round up: for the inclusive `from` and the exclusive `to` alike, a bound rounded up
  // to the next microsecond selects exactly the stored (microsecond) values the exact bound would.
  const up = /[1-9]/.test(digits.slice(6)) ? 1n : 0n
  return BigInt(date.getTime()) * 1000n + BigInt(digits.slice(0, 6)) + up
}

/** A time parameter → microseconds; ISO-8601 without an offset is UTC. */
export function parseMicros(param: string, v: string): Micros {
  let us: Micros | string
  const iso = ISO.exec(v)
  if (iso) us = fromIso(iso)
  else if (EPOCH_MS.test(v)) us = BigInt(v) * 1000n
  else throw new BadRequestError(param, `${param} must be ${TIME_RULE}`)
  if (typeof us === 'string') throw new BadRequestError(param, `${param} ${us}`)
  if (us < MIN || us > MAX)
    throw new BadRequestError(param, `${param} must lie between the years 0001 and 9999`)
  return us
}

/** Microseconds → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sorts as text in time order for years 0001–9999). */
export function formatMicros(us: Micros): string {
  let ms = us / 1000n
  let rest = us % 1000n
  if (rest < 0n) {
    ms -= 1n
    rest += 1000n
  }
  const iso = new Date(Number(ms)).toISOString()
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`
}

export function parseTime(param: string, v: string | undefined): string | undefined {
  return v === undefined ? undefined : formatMicros(parseMicros(param, v))
}

/** A request's [from, to): an empty range asked for by a `to` before `from` is a 400, not an empty page. */
export function parseRange(q: { from?: string; to?: string }): { from?: string; to?: string } {
  const from = parseTime('from', q.from)
  const to = parseTime('to', q.to)
  if (from !== undefined && to !== undefined && to < from)
    throw new BadRequestError('to', `to (${to}) is before from (${from})`)
  return { from, to }
}

/** Symbols are stored upper-case, so matching is case-insensitive by upper-casing the request. */
export function parseSymbol(param: string, v: string): string {
  const s = v.trim().toUpperCase()
  if (!isSymbol(s))
    throw new BadRequestError(
      param,
      `${param} ${JSON.stringify(v.slice(0, 40))} is not a symbol: use ${SYMBOL_RULE}`,
    )
  return s
}

export function parseSymbolList(param: string, v: string, max = 100): string[] {
  const list = [...new Set(v.split(',').map((s) => parseSymbol(param, s)))]
  if (list.length > max)
    throw new BadRequestError(param, `${param} lists ${list.length} symbols; at most ${max} per request`)
  return list
}

export function parseLimit(
  v: number | undefined,
  max: number | undefined,
  fallback: number | undefined,
): number | undefined {
  if (v === undefined) return fallback
  if (!Number.isSafeInteger(v) || v < 1)
    throw new BadRequestError('limit', 'limit must be a whole number of at least 1')
  if (max !== undefined && v > max)
    throw new BadRequestError('limit', `limit must be at most ${max} (format=csv exports any number of rows)`)
  return v
}

// A cursor is base64url of `n|key…` (rows after the key, continuing the page's order) or `p|key…`
// (the page before it). Keys are re-validated on the way in: a cursor is user input.
export type Direction = 'n' | 'p'

export function encodeCursor(dir: Direction, parts: (string | number)[]): string {
  return Buffer.from([dir, ...parts].join('|')).toString('base64url')
}

const NOT_OURS = 'cursor is not one this API issued (pass nextCursor or prevCursor of a page unchanged)'

export function decodeCursor(
  v: string | undefined,
  n: number,
): { dir: Direction; parts: string[] } | undefined {
  if (v === undefined) return undefined
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(v)) throw new BadRequestError('cursor', NOT_OURS)
  const [dir, ...parts] = Buffer.from(v, 'base64url').toString('utf8').split('|')
  if ((dir !== 'n' && dir !== 'p') || parts.length !== n) throw new BadRequestError('cursor', NOT_OURS)
  return { dir, parts }
}

export function cursorTime(v: string): string {
  // Only the form this API writes: a cursor is never epoch milliseconds or a bare date.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/.test(v))
    throw new BadRequestError('cursor', NOT_OURS)
  try {
    return formatMicros(parseMicros('cursor', v))
  } catch {
    throw new BadRequestError('cursor', NOT_OURS)
  }
}

/** A cursor part that must be a non-negative integer no larger than `max` (bigint or int). */
export function cursorInt(v: string, max: bigint): string {
  if (!/^\d{1,19}$/.test(v) || BigInt(v) > max) throw new BadRequestError('cursor', NOT_OURS)
  return v
}
