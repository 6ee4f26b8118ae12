// GET /api/v1/dead-letters: the messages the processor refused, with why and where they came from,
// newest or oldest first by keyset cursor on (received_at, id); and the counts per reason. The
// original payload is returned as text when it is valid UTF-8, else as base64 (`encoding` says which).
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import { BadRequestError } from '../errors.ts'
import type { Queryable } from '../store/db.ts'
import { sendCsv, wantsCsv } from './csv.ts'
import { cursorInt, cursorTime, decodeCursor, encodeCursor, parseLimit, parseRange } from './params.ts'
import type { Order } from './queries.ts'
import { NO_PARAMS, errorResponses, listQuery, page } from './openapi.ts'

export interface DeadLetterRow {
  id: string
  receivedAt: string
  reason: string
  detail: string | null
  topic: string
  partition: number
  offset: string
  key: string | null
  payload: string
  encoding: 'utf8' | 'base64'
}

interface DeadLetterQuery {
  reason?: string
  from?: string
  to?: string
  order: Order
  limit: number
  after?: { receivedAt: string; id: string }
}

export async function queryDeadLetters(db: Queryable, q: DeadLetterQuery): Promise<DeadLetterRow[]> {
  const desc = q.order === 'desc'
  const where: string[] = []
  const params: unknown[] = [q.limit]
  const bind = (v: unknown): string => `$${params.push(v)}`
  if (q.reason !== undefined) where.push(`reason = ${bind(q.reason)}`)
  if (q.from !== undefined) where.push(`received_at >= ${bind(q.from)}::timestamptz`)
  if (q.to !== undefined) where.push(`received_at < ${bind(q.to)}::timestamptz`)
  if (q.after)
    where.push(
      `(received_at, id) ${desc ? '<' : '>'} (${bind(q.after.receivedAt)}::timestamptz, ${bind(q.after.id)}::bigint)`,
    )
  const dir = desc ? 'desc' : 'asc'
  const rows = await db.query<Omit<DeadLetterRow, 'payload' | 'encoding'> & { payload: Uint8Array }>(
    `select id::text, to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "receivedAt",
            reason, detail, topic, partition, "offset"::text as "offset", key, payload
     from dead_letters ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
     order by received_at ${dir}, id ${dir}
     limit $1`,
    params,
  )
  return rows.map((r) => {
    const bytes = Buffer.from(r.payload)
    const utf8 = isUtf8(bytes)
    return { ...r, payload: bytes.toString(utf8 ? 'utf8' : 'base64'), encoding: utf8 ? 'utf8' : 'base64' }
  })
}

export async function deadLetterCounts(
  db: Queryable,
): Promise<{ reason: string; count: string; latest: string }[]> {
  return db.query(
    `select reason, count(*)::text as count,
            to_char(max(received_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as latest
     from dead_letters group by reason order by count(*) desc, reason`,
  )
}

interface Query {
  reason?: string
  from?: string
  to?: string
  order?: Order
  limit?: number
  cursor?: string
  format?: 'json' | 'csv'
}

const COLUMNS: (keyof DeadLetterRow)[] = [
  'id',
  'receivedAt',
  'reason',
  'detail',
  'topic',
  'partition',
  'offset',
  'key',
  'encoding',
  'payload',
]

export function registerDeadLetters(app: FastifyInstance, db: Queryable): void {
  app.get<{ Querystring: Query }>(
    '/api/v1/dead-letters',
    {
      schema: {
        description:
          'Dead letters (messages refused by the processor) by received time, with reason, detail, origin and payload',
        querystring: listQuery({
          reason: { type: 'string', description: 'only this reason, e.g. bad_price' },
        }),
        response: { 200: page('dead letters'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query
      if (q.reason !== undefined && !/^[a-z0-9_]{1,64}$/.test(q.reason))
        throw new BadRequestError(
          'reason',
          'reason must be a reason code such as bad_price (lower-case letters, digits, _)',
        )
      const csv = wantsCsv(q.format, req.headers.accept)
      const limit = parseLimit(q.limit, csv ? undefined : 500, csv ? undefined : 100)
      const c = decodeCursor(q.cursor, 2)
      const after = c && { receivedAt: cursorTime(c.parts[0]!), id: cursorInt(c.parts[1]!, 2n ** 63n - 1n) }
      const order = q.order ?? 'asc'
      const flip: Order = order === 'asc' ? 'desc' : 'asc'
      const scan = c?.dir === 'p' ? flip : order
      const base = {
        reason: q.reason,
        ...parseRange(q),
        order: scan,
      }
      if (csv)
        return sendCsv<DeadLetterRow>(
          reply,
          'dead-letters',
          COLUMNS,
          (last, size) => queryDeadLetters(db, { ...base, limit: size, after: last ?? after }),
          // payloads may be large (up to the documented cap each): small pages keep memory flat
          { limit, pageSize: 100 },
        )
      const rows = await queryDeadLetters(db, { ...base, limit: limit! + 1, after })
      const more = rows.length > limit!
      const data = rows.slice(0, limit)
      if (c?.dir === 'p') data.reverse()
      const key = (r: DeadLetterRow | undefined) => (r ? [r.receivedAt, r.id] : undefined)
      return { data, ...cursors(c?.dir, more, key(data[0]), key(data.at(-1))) }
    },
  )

  app.get(
    '/api/v1/dead-letters/reasons',
    {
      schema: {
        description: 'Dead letters counted by reason, with the time of the latest of each',
        querystring: NO_PARAMS,
        response: errorResponses,
      },
    },
    async () => ({ data: await deadLetterCounts(db) }),
  )
}

/**
 * nextCursor/prevCursor of a page. `dir` is how the page was reached (none: first page), `more`
 * whether rows remain beyond it in the direction it was read.
 */
export function cursors(
  dir: 'n' | 'p' | undefined,
  more: boolean,
  first: (string | number)[] | undefined,
  last: (string | number)[] | undefined,
): { nextCursor: string | null; prevCursor: string | null } {
  const back = dir === 'p'
  const hasNext = back ? last !== undefined : more
  const hasPrev = back ? more : dir === 'n' && first !== undefined
  return {
    nextCursor: hasNext && last ? encodeCursor('n', last) : null,
    prevCursor: hasPrev && first ? encodeCursor('p', first) : null,
  }
}
