// Binance public market data: the `<symbol>@trade` streams (and `<symbol>@bookTicker` when quotes
// are asked for) on one combined-stream connection, `<base>/stream?streams=a/b/c`. No key. Frames:
//   {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",
//    "t":5266583935,"p":"61800.30","q":"0.006","m":false}}
// Prices and quantities arrive as decimal strings and are kept as sent; `T` (trade time, ms) is the
// event time. Spot is the default; USD-M futures is `wss://fstream.binance.com` with the same frames.
// Binance closes every connection after 24 h: that is one more reconnect.
import { z } from 'zod'
import { booleanSetting, url } from '../config/schema.ts'
import type { Trade } from '../domain/trade.ts'
import type { Source, SourceDeps } from './types.ts'
import { decimalString, eventTime } from './convert.ts'
import { newStats, reconnectOptions, type FeedStats, type ProviderAdapter } from './provider.ts'
import { webSocketFeed, type FeedContext } from './ws-feed.ts'

export const binanceOptions = z.object({
  symbols: z.array(z.string().regex(/^[A-Za-z0-9]{2,20}$/, 'a Binance symbol such as BTCUSDT')).min(1),
  baseUrl: z.string().url().default('wss://stream.binance.com:9443'),
  /** Also subscribe to the best bid/offer stream (counted, not yet turned into events). */
  quotes: z.boolean().default(false),
  reconnect: reconnectOptions,
  connectTimeoutMs: z.number().int().positive().default(10_000),
  idleTimeoutMs: z.number().int().nonnegative().default(60_000),
})
export type BinanceOptions = z.output<typeof binanceOptions>

interface TradeData {
  e?: unknown
  s?: unknown
  t?: unknown
  p?: unknown
  q?: unknown
  T?: unknown
}

export function binanceUrl(o: BinanceOptions): string {
  const base = o.baseUrl.replace(/\/+$/, '').replace(/\/stream$/, '')
  const streams = o.symbols.flatMap((s) => {
    const lower = s.toLowerCase()
    return o.quotes ? [`${lower}@trade`, `${lower}@bookTicker`] : [`${lower}@trade`]
  })
  return `${base}/stream?streams=${streams.join('/')}`
}

/** Turns one frame into a trade, a counted quote, or a counted malformed frame. */
function onFrame(text: string, ctx: FeedContext, lastId: Map<string, bigint>): void {
  let frame: { stream?: unknown; data?: TradeData; result?: unknown; id?: unknown; code?: unknown }
  try {
    frame = JSON.parse(text) as typeof frame
  } catch {
    return ctx.malformed('not JSON', text)
  }
  if (frame === null || typeof frame !== 'object') return ctx.malformed('not an object', text)
  if ('result' in frame && 'id' in frame) return // reply to a (un)subscribe request
  const d = frame.data
  if (d === null || typeof d !== 'object') return ctx.malformed('no data', text)
  if (d.e === 'bookTicker') {
    ctx.stats.quotes++
    return
  }
  if (d.e !== 'trade') return ctx.malformed('unknown event', text)
  const price = decimalString(d.p)
  const size = decimalString(d.q)
  const ts = eventTime(d.T)
  const id = typeof d.t === 'number' && Number.isSafeInteger(d.t) ? BigInt(d.t) : undefined
  if (typeof d.s !== 'string' || !price || !size || !ts || id === undefined || typeof d.p !== 'string')
    return ctx.malformed('incomplete trade', text)
  // Trade ids rise per symbol: an id not above the last one is a frame seen before a reconnect.
  const last = lastId.get(d.s)
  if (last !== undefined && id <= last) {
    ctx.stats.duplicates++
    return
  }
  lastId.set(d.s, id)
  const trade: Trade = {
    v: 1,
    type: 'trade',
    symbol: d.s,
    ts,
    price,
    size,
    source: 'binance',
    // Qualified by symbol: ids are per symbol, and the store deduplicates per source.
    id: `${d.s}:${id}`,
  }
  ctx.trade(trade)
}

export const binance: ProviderAdapter<BinanceOptions> = {
  name: 'binance',
  summary: 'Binance public trade streams over WebSocket (no key)',
  options: binanceOptions,
  settings: {
    baseUrl: {
      env: 'BINANCE_WS_URL',
      help: "Binance WebSocket base URL (default: the provider's documented URL)",
      schema: url.optional(),
    },
    quotes: {
      env: 'BINANCE_QUOTES',
      help: 'also subscribe to the best bid/offer streams (counted, not stored; default false)',
      schema: booleanSetting.optional(),
    },
  },
  create(o, deps: SourceDeps): Source & { stats: FeedStats } {
    const stats = newStats()
    const lastId = new Map<string, bigint>()
    const url = binanceUrl(o)
    return {
      name: 'binance',
      stats,
      batches: () =>
        webSocketFeed({
          name: 'binance',
          deps,
          stats,
          url,
          safeUrl: url,
          secrets: [],
          reconnect: o.reconnect,
          connectTimeoutMs: o.connectTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          watch: 'any',
          // The subscription is the URL itself: every reconnect resubscribes.
          protocol: () => ({ onMessage: (text, ctx) => onFrame(text, ctx, lastId) }),
        }),
    }
  },
}
