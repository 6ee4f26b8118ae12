// Finnhub real-time trades over WebSocket: `wss://ws.finnhub.io?token=KEY` (a bad key is refused
// with HTTP 401 on connect), `{"type":"subscribe","symbol":"AAPL"}` per symbol, and
//   {"type":"trade","data":[{"p":122.1,"s":"TSLA","t":1672348887195,"v":1,"c":["1","8"]}]}
// Prices and volumes are JSON numbers, written back as their shortest round-trip decimal; `t` (ms)
// is the event time. Finnhub sends no trade id. The server sends {"type":"ping"} while it is alive;
// its free stream is known to go silent with the socket still open, so a watchdog on data frames
// (pings included, WebSocket-level pongs not) reconnects after `idleTimeoutMs` of silence.
import { z } from 'zod'
import { booleanSetting, url } from '../config/schema.ts'
import type { Trade } from '../domain/trade.ts'
import { qualify, rawCodes } from '../domain/conditions.ts'
import type { Source, SourceDeps } from './types.ts'
import { decimalString, eventTime } from './convert.ts'
import { authError, newStats, reconnectOptions, type FeedStats, type ProviderAdapter } from './provider.ts'
import { webSocketFeed, type FeedContext } from './ws-feed.ts'

export const finnhubOptions = z.object({
  symbols: z.array(z.string().min(1).max(20)).min(1),
  apiKey: z.string().min(1),
  baseUrl: z.string().url().default('wss://ws.finnhub.io'),
  /** FX and crypto send price updates with v=0: keep them as zero-size trades, or count them only. */
  zeroVolume: z.boolean().default(false),
  reconnect: reconnectOptions,
  connectTimeoutMs: z.number().int().positive().default(10_000),
  idleTimeoutMs: z.number().int().nonnegative().default(90_000),
})
export type FinnhubOptions = z.output<typeof finnhubOptions>

interface FinnhubTrade {
  p?: unknown
  s?: unknown
  t?: unknown
  v?: unknown
  c?: unknown
}

function onFrame(text: string, ctx: FeedContext, o: FinnhubOptions): void {
  let msg: { type?: unknown; data?: unknown; msg?: unknown }
  try {
    msg = JSON.parse(text) as typeof msg
  } catch {
    return ctx.malformed('not JSON', text)
  }
  if (msg === null || typeof msg !== 'object') return ctx.malformed('not an object', text)
  if (msg.type === 'ping') return // keeps the watchdog quiet, nothing else
  if (msg.type === 'error') {
    const detail = typeof msg.msg === 'string' ? msg.msg : 'error'
    if (/invalid.*(key|token)|unauthori[sz]ed/i.test(detail)) throw authError('finnhub', detail)
    return ctx.malformed(`provider error: ${detail}`, text)
  }
  if (msg.type !== 'trade' || !Array.isArray(msg.data)) return ctx.malformed('unknown message', text)
  for (const raw of msg.data as FinnhubTrade[]) {
    const price = decimalString(raw?.p)
    const size = decimalString(raw?.v)
    const ts = eventTime(raw?.t)
    if (typeof raw?.s !== 'string' || typeof raw.p !== 'number' || !price || !size || !ts) {
      ctx.malformed('incomplete trade', JSON.stringify(raw) ?? '')
      continue
    }
    if (size === '0' && !o.zeroVolume) {
      ctx.stats.quotes++
      continue
    }
    const codes = rawCodes(raw.c)
    if (codes === null) {
      ctx.malformed('conditions are not a list of codes', JSON.stringify(raw))
      continue
    }
    const trade: Trade = { v: 1, type: 'trade', symbol: raw.s, ts, price, size, source: 'finnhub' }
    // Finnhub numbers conditions its own way, without the SIP code or the tape: kept as
    // `finnhub:<code>`, outside the rule table.
    if (codes && codes.length > 0) trade.conditions = codes.map((c) => qualify(c, undefined, 'finnhub'))
    ctx.trade(trade)
  }
}

export const finnhub: ProviderAdapter<FinnhubOptions> = {
  name: 'finnhub',
  summary: 'Finnhub real-time trades over WebSocket (API key)',
  options: finnhubOptions,
  settings: {
    apiKey: {
      env: 'FINNHUB_API_KEY',
      secret: true,
      required: true,
      help: 'Finnhub API key',
      schema: z.string().min(1).optional(),
    },
    baseUrl: {
      env: 'FINNHUB_WS_URL',
      help: "Finnhub WebSocket base URL (default: the provider's documented URL)",
      schema: url.optional(),
    },
    zeroVolume: {
      env: 'FINNHUB_ZERO_VOLUME',
      help: 'keep the zero-volume price updates of FX and crypto as zero-size trades (default false: only counted)',
      schema: booleanSetting.optional(),
    },
  },
  create(o, deps: SourceDeps): Source & { stats: FeedStats } {
    const stats = newStats()
    const base = o.baseUrl.replace(/\/+$/, '')
    const url = `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(o.apiKey)}`
    const each = (ctx: FeedContext, type: 'subscribe' | 'unsubscribe'): void => {
      for (const symbol of o.symbols) ctx.send({ type, symbol })
    }
    return {
      name: 'finnhub',
      stats,
      batches: () =>
        webSocketFeed({
          name: 'finnhub',
          deps,
          stats,
          url,
          safeUrl: base,
          secrets: [o.apiKey, encodeURIComponent(o.apiKey)],
          reconnect: o.reconnect,
          connectTimeoutMs: o.connectTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          watch: 'messages',
          protocol: () => ({
            onOpen: (ctx) => each(ctx, 'subscribe'),
            onMessage: (text, ctx) => onFrame(text, ctx, o),
            onStop: (ctx) => each(ctx, 'unsubscribe'),
          }),
        }),
    }
  },
}
