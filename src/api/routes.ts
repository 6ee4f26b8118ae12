// REST under /api/v1 and the live WebSocket. Parameters are checked by JSON schema and then by the
// handlers (times, symbols, cursors: src/api/params.ts); a bad one gets 400
// {"error":"bad_request","param":…,"message":…}.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { WebSocket } from 'ws'
import type { Db } from '../store/db.ts'
import {
  BAR_SOURCES,
  barsSql,
  dataRange,
  latestQuotes,
  listSymbols,
  queryBars,
  queryTrades,
  storeStats,
  tradesSql,
} from './queries.ts'
import type { BarRow, BarSource, TradeKey, TradeRow } from './queries.ts'
import { serveStream, type LiveHub } from './live.ts'
import { sendCopy, sendCsv } from './csv.ts'
import { registerDeadLetters } from './dead-letters.ts'
import { ALL, EMPTY, barRange, beyond, pageOf, parseList, type ListQuery } from './paging.ts'
import { registerIndicators } from './indicators.ts'
import { parseStreamIndicators, streamIndicators } from './indicator-stream.ts'
import { INTERVALS } from '../domain/types.ts'
import { registerAlerts } from './alerts.ts'
import { NO_PARAMS, barRow, errorResponses, listQuery, page, symbolParam, tradeRow } from './openapi.ts'
import { cursorInt, cursorTime, parseSymbol, parseSymbolList } from './params.ts'

const INT_MAX = 2n ** 31n - 1n
const BIGINT_MAX = 2n ** 63n - 1n

export interface RouteDeps {
  db: Db
  hub?: LiveHub
}

function registerTrades(app: FastifyInstance, db: Db): void {
  app.get<{ Querystring: ListQuery & { symbol: string } }>(
    '/api/v1/trades',
    {
      schema: {
        description: 'Trades of one symbol in event-time order, (ts, partition, seq) as the tie-break',
        querystring: listQuery({ symbol: symbolParam }, ['symbol']),
        response: { 200: page('trades', tradeRow), ...errorResponses },
      },
    },
    async (req, reply) => {
      const symbol = parseSymbol('symbol', req.query.symbol)
      const p = parseList(req.query, req.headers.accept, 3)
      let after: TradeKey | undefined
      if (p.cursor) {
        const [ts, partition, seq] = p.cursor.parts as [string, string, string]
        after = {
          ts: cursorTime(ts),
          partition: Number(cursorInt(partition, INT_MAX)),
          seq: cursorInt(seq, BIGINT_MAX),
        }
      }
      const { from, to } = after ? beyond(p.scan, after.ts, p.from, p.to) : p
      const key = (r: TradeRow) => [r.ts, r.partition, r.seq]
      if (p.csv) {
        const range = await dataRange(db, { symbol, from, to })
        const q = { symbol, ...(range ?? EMPTY), order: p.scan, limit: p.limit ?? ALL, after }
        if (db.copyOut) return sendCopy(reply, `trades-${symbol}`, db, tradesSql(q))
        return sendCsv<TradeRow>(
          reply,
          `trades-${symbol}`,
          ['symbol', 'ts', 'price', 'size', 'source', 'tradeId', 'partition', 'seq'],
          (last, size) => queryTrades(db, { ...q, limit: size, after: last ?? after }),
          { limit: p.limit },
        )
      }
      const limit = p.limit!
      const range = await dataRange(db, { symbol, from, to, order: p.scan, limit: limit + 1 })
      const rows = range
        ? await queryTrades(db, { symbol, ...range, order: p.scan, limit: limit + 1, after })
        : []
      return pageOf(rows, limit, p.cursor?.dir, key)
    },
  )
}

function registerBars(app: FastifyInstance, db: Db): void {
  app.get<{ Querystring: ListQuery & { symbol: string; interval: string; source?: BarSource } }>(
    '/api/v1/bars',
    {
      schema: {
        description:
          'OHLCV + VWAP bars of one symbol and interval, by bucket start; source=spark serves the Spark job’s bars (docs/spark.md)',
        querystring: listQuery(
          {
            symbol: symbolParam,
            interval: { type: 'string', enum: [...INTERVALS] },
            source: { type: 'string', enum: BAR_SOURCES, default: 'tickflow' },
          },
          ['symbol', 'interval'],
        ),
        response: { 200: page('bars', barRow), ...errorResponses },
      },
    },
    async (req, reply: FastifyReply) => {
      const symbol = parseSymbol('symbol', req.query.symbol)
      const interval = req.query.interval
      const source = req.query.source ?? 'tickflow'
      const p = parseList(req.query, req.headers.accept, 1)
      const after = p.cursor ? cursorTime(p.cursor.parts[0]!) : undefined
      const range = await barRange(db, symbol, p, after, source)
      const read = (limit: number, last?: string) =>
        range
          ? queryBars(db, { symbol, interval, ...range, order: p.scan, limit, after: last, source })
          : Promise.resolve([])
      if (p.csv && db.copyOut)
        return sendCopy(
          reply,
          `bars-${symbol}-${interval}`,
          db,
          barsSql({
            symbol,
            interval,
            ...(range ?? EMPTY),
            order: p.scan,
            limit: p.limit ?? ALL,
            after,
            source,
          }),
        )
      if (p.csv)
        return sendCsv<BarRow>(
          reply,
          `bars-${symbol}-${interval}`,
          ['symbol', 'interval', 'bucket', 'open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'],
          (last, size) => read(size, last?.bucket ?? after),
          { limit: p.limit },
        )
      const rows = await read(p.limit! + 1, after)
      return pageOf(rows, p.limit!, p.cursor?.dir, (r) => [r.bucket])
    },
  )
}

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { db } = deps

  app.get(
    '/api/v1/symbols',
    {
      schema: {
        description: 'Symbols with their latest daily bar',
        querystring: NO_PARAMS,
        response: errorResponses,
      },
    },
    async () => ({ data: await listSymbols(db) }),
  )
  app.get(
    '/api/v1/stats',
    {
      schema: {
        description:
          'What the store holds: symbols, trades (counted from the daily bars, so cheap at any size), dead letters, and the first and last daily bucket',
        querystring: NO_PARAMS,
        response: errorResponses,
      },
    },
    async () => storeStats(db),
  )
  registerTrades(app, db)
  registerBars(app, db)
  registerIndicators(app, db)
  registerDeadLetters(app, db)
  registerAlerts(app, db)

  app.get<{ Querystring: { symbols: string } }>(
    '/api/v1/quotes/latest',
    {
      schema: {
        description: 'Last trade per symbol, with the previous daily close',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['symbols'],
          properties: {
            symbols: { type: 'string', description: 'comma-separated symbols, at most 100, any case' },
          },
        },
        response: errorResponses,
      },
    },
    async (req) => ({ data: await latestQuotes(db, parseSymbolList('symbols', req.query.symbols)) }),
  )

  app.get<{ Querystring: { symbols?: string; indicators?: string } }>(
    '/api/v1/stream',
    {
      websocket: true,
      schema: {
        description:
          'WebSocket (GET with Upgrade: websocket): {"type":"hello"}, then {"type":"trade"|"bar","data":…} messages for the symbols (all when omitted), and with `indicators` {"type":"indicator","data":{symbol, interval, indicator, rows}} whenever a bar they rest on changes. A client more than 64 KiB behind, or that does not answer a ping within 5 s, is closed with code 4000.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            symbols: { type: 'string', description: 'comma-separated symbols, at most 100, any case' },
            indicators: {
              type: 'string',
              description:
                'comma-separated indicators to stream, at most 10, as name(params)@interval: sma(20)@1m, ema(20)@1m, rsi(14)@1m, bollinger(20,2)@1d, macd(12,26,9)@5m, volatility(20)@1h, vwap@1m',
            },
          },
        },
        response: { 101: { description: 'switching to the WebSocket protocol' }, ...errorResponses },
      },
      // Checked before the upgrade, so a bad list is an ordinary 400; normalised to upper case.
      preHandler: (req, _reply, done) => {
        try {
          if (req.query.symbols !== undefined)
            req.query.symbols = parseSymbolList('symbols', req.query.symbols).join(',')
          if (req.query.indicators !== undefined) parseStreamIndicators(req.query.indicators)
          done()
        } catch (err) {
          done(err as Error)
        }
      },
    },
    (socket: WebSocket, req) => {
      const symbols = req.query.symbols ? new Set(req.query.symbols.split(',')) : null
      const hub = deps.hub
      if (!hub) {
        socket.close(1011, 'no live tail in this process')
        return
      }
      serveStream(socket, hub, symbols)
      if (req.query.indicators !== undefined)
        streamIndicators(socket, hub, db, symbols, parseStreamIndicators(req.query.indicators), (err) =>
          req.log.error(err),
        )
    },
  )
}
