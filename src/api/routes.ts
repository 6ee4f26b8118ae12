// REST under /api/v1 and the live WebSocket. Parameters are validated by JSON schema before a
// handler runs; a bad one gets 400 {"error":"bad_request","param":…,"message":…}.
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import { BadRequestError } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { latestQuotes, listSymbols, queryBars, queryTrades } from './queries.ts'
import type { LiveEvent, LiveHub } from './live.ts'

const SYMBOL = '^[A-Z0-9][A-Z0-9.\\-/:]{0,19}$'
const ISO = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?$'
const symbolList = '^[A-Z0-9][A-Z0-9.\\-/:]{0,19}(,[A-Z0-9][A-Z0-9.\\-/:]{0,19}){0,99}$'
/** A WebSocket client whose unsent data passes this is dropped (close code 4000). */
export const MAX_CLIENT_BUFFER = 1 << 20

const range = {
  from: { type: 'string', pattern: ISO, description: 'inclusive start, ISO-8601' },
  to: { type: 'string', pattern: ISO, description: 'exclusive end, ISO-8601' },
  limit: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
  cursor: {
    type: 'string',
    pattern: '^[A-Za-z0-9_-]{1,200}$',
    description: 'nextCursor of the previous page',
  },
} as const

function time(param: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  const ms = Date.parse(v)
  if (!Number.isFinite(ms)) throw new BadRequestError(param, `${param} is not a valid time`)
  return new Date(ms).toISOString()
}

function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(parts.join('|')).toString('base64url')
}

function decodeCursor(cursor: string | undefined, n: number): string[] | undefined {
  if (cursor === undefined) return undefined
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  if (parts.length !== n) throw new BadRequestError('cursor', 'cursor is not one this API issued')
  return parts
}

export interface RouteDeps {
  db: Db
  hub?: LiveHub
}

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { db } = deps

  app.get(
    '/api/v1/symbols',
    { schema: { description: 'Symbols with their latest daily bar' } },
    async () => ({ data: await listSymbols(db) }),
  )

  app.get<{ Querystring: { symbol: string; from?: string; to?: string; limit: number; cursor?: string } }>(
    '/api/v1/trades',
    {
      schema: {
        description: 'Trades of one symbol in event-time order',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['symbol'],
          properties: { symbol: { type: 'string', pattern: SYMBOL }, ...range },
        },
      },
    },
    async (req) => {
      const q = req.query
      const c = decodeCursor(q.cursor, 3)
      const after = c ? { ts: time('cursor', c[0])!, partition: Number(c[1]), seq: c[2]! } : undefined
      if (after && (!Number.isInteger(after.partition) || !/^\d+$/.test(after.seq)))
        throw new BadRequestError('cursor', 'cursor is not one this API issued')
      const rows = await queryTrades(db, {
        symbol: q.symbol,
        from: time('from', q.from),
        to: time('to', q.to),
        limit: q.limit,
        after,
      })
      const last = rows.at(-1)
      return {
        data: rows,
        nextCursor:
          rows.length === q.limit && last ? encodeCursor([last.ts, last.partition, last.seq]) : null,
      }
    },
  )

  app.get<{
    Querystring: {
      symbol: string
      interval: string
      from?: string
      to?: string
      limit: number
      cursor?: string
    }
  }>(
    '/api/v1/bars',
    {
      schema: {
        description: 'OHLCV + VWAP bars of one symbol and interval, by bucket start',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['symbol', 'interval'],
          properties: {
            symbol: { type: 'string', pattern: SYMBOL },
            interval: { type: 'string', enum: ['1s', '1m', '5m', '1h', '1d'] },
            ...range,
          },
        },
      },
    },
    async (req) => {
      const q = req.query
      const c = decodeCursor(q.cursor, 1)
      const rows = await queryBars(db, {
        symbol: q.symbol,
        interval: q.interval,
        from: time('from', q.from),
        to: time('to', q.to),
        limit: q.limit,
        after: c ? time('cursor', c[0]) : undefined,
      })
      const last = rows.at(-1)
      return { data: rows, nextCursor: rows.length === q.limit && last ? encodeCursor([last.bucket]) : null }
    },
  )

  app.get<{ Querystring: { symbols: string } }>(
    '/api/v1/quotes/latest',
    {
      schema: {
        description: 'Last trade per symbol, with the previous daily close',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['symbols'],
          properties: { symbols: { type: 'string', pattern: symbolList } },
        },
      },
    },
    async (req) => ({ data: await latestQuotes(db, [...new Set(req.query.symbols.split(','))]) }),
  )

  app.get<{ Querystring: { symbols?: string } }>(
    '/api/v1/stream',
    {
      websocket: true,
      schema: {
        description:
          'WebSocket: {"type":"trade"|"bar","data":…} messages for the symbols (all when omitted). A client that falls more than 1 MiB behind is closed with code 4000.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { symbols: { type: 'string', pattern: symbolList } },
        },
      },
    },
    (socket: WebSocket, req) => {
      const symbols = req.query.symbols ? new Set(req.query.symbols.split(',')) : null
      const hub = deps.hub
      if (!hub) {
        socket.close(1011, 'no live tail in this process')
        return
      }
      const unsubscribe = hub.subscribe(symbols, (events: LiveEvent[]) => {
        if (socket.readyState !== socket.OPEN) return
        // Backpressure: never queue without bound for a client that does not read.
        if (socket.bufferedAmount > MAX_CLIENT_BUFFER) {
          unsubscribe()
          socket.close(4000, 'slow client: more than 1 MiB unsent')
          return
        }
        for (const e of events) socket.send(JSON.stringify(e))
      })
      const ping = setInterval(() => socket.ping(), 30_000)
      socket.on('close', () => {
        clearInterval(ping)
        unsubscribe()
      })
      socket.send(JSON.stringify({ type: 'hello', data: { symbols: symbols ? [...symbols] : 'all' } }))
    },
  )
}
