// What the list endpoints share: the parsed range, order, page size and cursor of a request, the
// keyset page with its cursors, and the bucket range a bar-like list reads. Bars, trades and
// indicators page alike because they all go through here.
import type { Db } from '../store/db.ts'
import { dataRange, type BarSource, type Order } from './queries.ts'
import { wantsCsv } from './csv.ts'
import { cursors } from './dead-letters.ts'
import { decodeCursor, formatMicros, parseLimit, parseMicros, parseRange } from './params.ts'

export const ALL = Number.MAX_SAFE_INTEGER
/** The range of a symbol without data: selects nothing. */
export const EMPTY = { lo: '1970-01-01T00:00:00.000000Z', hi: '1970-01-01T00:00:00.000000Z' }

export interface ListQuery {
  from?: string
  to?: string
  order?: Order
  limit?: number
  cursor?: string
  format?: 'json' | 'csv'
}

/** What every list request shares once parsed: the range, the scan order and the page size. */
export function parseList(q: ListQuery, accept: string | undefined, parts: number) {
  const csv = wantsCsv(q.format, accept)
  const limit = parseLimit(q.limit, csv ? undefined : 5000, csv ? undefined : 500)
  const c = decodeCursor(q.cursor, parts)
  const order = q.order ?? 'asc'
  const scan: Order = c?.dir === 'p' ? (order === 'asc' ? 'desc' : 'asc') : order
  return { csv, limit, cursor: c, scan, ...parseRange(q) }
}

/** Narrows [from, to) to what lies beyond a cursor key in the scan order. */
export function beyond(scan: Order, key: string, from?: string, to?: string): { from?: string; to?: string } {
  if (scan === 'asc') return { from: from === undefined || key > from ? key : from, to }
  const end = formatMicros(parseMicros('cursor', key) + 1n)
  return { from, to: to === undefined || end < to ? end : to }
}

/** The JSON page: rows read limit+1 in scan order, shown in the requested order, with cursors. */
export function pageOf<R>(
  rows: R[],
  limit: number,
  dir: 'n' | 'p' | undefined,
  key: (r: R) => (string | number)[],
) {
  const more = rows.length > limit
  const data = rows.slice(0, limit)
  if (dir === 'p') data.reverse()
  const first = data[0]
  const last = data.at(-1)
  return {
    data,
    ...cursors(
      dir,
      more,
      first === undefined ? undefined : key(first),
      last === undefined ? undefined : key(last),
    ),
  }
}

// A 5-minute or hourly bucket may start up to an hour before the daily bucket (time zones with
// half- or quarter-hour offsets), so a range filled from daily bars starts an hour earlier.
const HOUR = 3_600_000_000n

export type ParsedList = ReturnType<typeof parseList>

/**
 * The [lo, hi) bucket range a page of bars reads: from/to beyond the cursor, missing ends filled from
 * the symbol's daily bars; null when the symbol has no data.
 */
export async function barRange(
  db: Db,
  symbol: string,
  p: ParsedList,
  after: string | undefined,
  source?: BarSource,
): Promise<{ lo: string; hi: string } | null> {
  const { from, to } = after ? beyond(p.scan, after, p.from, p.to) : p
  const filled = await dataRange(db, { symbol, from, to, source })
  return filled && { lo: from ?? formatMicros(parseMicros('from', filled.lo) - HOUR), hi: filled.hi }
}
