// Alpaca market data v2 stock stream, `wss://stream.data.alpaca.markets/v2/{iex|sip}`:
//   server [{"T":"success","msg":"connected"}] → client {"action":"auth","key":…,"secret":…}
//   server [{"T":"success","msg":"authenticated"}] → client {"action":"subscribe","trades":[…],…}
//   server [{"T":"subscription",…}], then arrays of messages:
//   {"T":"t","i":96921,"S":"AAPL","x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z","c":["@"],"z":"C"}
// Quotes ("q") and bars ("b", "d", "u") are parsed and counted. Errors arrive as
// [{"T":"error","code":402,"msg":"auth failed"}]: 402 (bad key), 405 (symbol limit), 409
// (subscription does not cover the feed), 400/410 (a request this adapter should never send) stop
// the source; 401, 404, 406 (connection limit), 407 (slow client) and 500 reconnect with backoff.
import { z } from 'zod'
import { booleanSetting, url } from '../config/schema.ts'
import { ServiceError } from '../errors.ts'
import type { Trade } from '../domain/trade.ts'
import { planOfTape, qualify, rawCodes } from '../domain/conditions.ts'
import type { Source, SourceDeps } from './types.ts'
import { decimalString, eventTime } from './convert.ts'
import {
  RecentKeys,
  authError,
  newStats,
  reconnectOptions,
  type FeedStats,
  type ProviderAdapter,
} from './provider.ts'
import { webSocketFeed, type FeedContext, type FeedProtocol } from './ws-feed.ts'

export const alpacaOptions = z.object({
  symbols: z.array(z.string().min(1).max(20)).min(1),
  keyId: z.string().min(1),
  secretKey: z.string().min(1),
  baseUrl: z.string().url().default('wss://stream.data.alpaca.markets/v2'),
  feed: z.enum(['iex', 'sip']).default('iex'),
  quotes: z.boolean().default(false),
  bars: z.boolean().default(false),
  reconnect: reconnectOptions,
  connectTimeoutMs: z.number().int().positive().default(10_000),
  idleTimeoutMs: z.number().int().nonnegative().default(90_000),
})
export type AlpacaOptions = z.output<typeof alpacaOptions>

const FATAL: Record<number, string> = {
  400: 'invalid syntax',
  405: 'symbol limit exceeded: subscribe to fewer symbols',
  409: 'insufficient subscription for this feed (try feed iex)',
  410: 'invalid subscribe action for this feed',
}

interface AlpacaMessage {
  T?: unknown
  msg?: unknown
  code?: unknown
  S?: unknown
  i?: unknown
  x?: unknown
  p?: unknown
  s?: unknown
  t?: unknown
  c?: unknown
  z?: unknown
}

function tradeOf(m: AlpacaMessage, ctx: FeedContext, seen: RecentKeys): void {
  const price = decimalString(m.p)
  const size = decimalString(m.s)
  const ts = eventTime(m.t)
  if (typeof m.S !== 'string' || typeof m.t !== 'string' || typeof m.i !== 'number' || !price || !size || !ts)
    return ctx.malformed('incomplete trade', JSON.stringify(m))
  // Trade ids are unique per symbol, exchange and day only; the store deduplicates per source.
  const id = `${m.S}:${typeof m.x === 'string' ? m.x : ''}:${ts.slice(0, 10)}:${m.i}`
  if (!seen.add(id)) {
    ctx.stats.duplicates++
    return
  }
  const codes = rawCodes(m.c)
  if (codes === null) return ctx.malformed('conditions are not a list of codes', JSON.stringify(m))
  const trade: Trade = { v: 1, type: 'trade', symbol: m.S, ts, price, size, source: 'alpaca', id }
  // `c` holds the SIP's own codes; the tape `z` says whose (A, B: CTA; C: UTP).
  const plan = planOfTape(m.z)
  if (codes && codes.length > 0) trade.conditions = codes.map((c) => qualify(c, plan, 'alpaca'))
  ctx.trade(trade)
}

function protocol(o: AlpacaOptions, seen: RecentKeys): FeedProtocol {
  const control = (m: AlpacaMessage, ctx: FeedContext): void => {
    if (m.T === 'success' && m.msg === 'connected')
      ctx.send({ action: 'auth', key: o.keyId, secret: o.secretKey })
    else if (m.T === 'success' && m.msg === 'authenticated')
      ctx.send({
        action: 'subscribe',
        trades: o.symbols,
        ...(o.quotes ? { quotes: o.symbols } : {}),
        ...(o.bars ? { bars: o.symbols } : {}),
      })
    else if (m.T === 'error') {
      const code = typeof m.code === 'number' ? m.code : 0
      const detail = `${code} ${typeof m.msg === 'string' ? m.msg : ''}`.trim()
      if (code === 402) throw authError('alpaca', detail)
      if (FATAL[code])
        throw new ServiceError('alpaca', `alpaca: ${FATAL[code]} (${detail})`, { retryable: false })
      if (code === 403) return // already authenticated: harmless
      throw new ServiceError('alpaca', `alpaca: ${detail}`)
    }
  }
  return {
    onMessage(text, ctx) {
      let msgs: unknown
      try {
        msgs = JSON.parse(text)
      } catch {
        return ctx.malformed('not JSON', text)
      }
      if (!Array.isArray(msgs)) return ctx.malformed('not an array', text)
      for (const m of msgs as (AlpacaMessage | null)[]) {
        if (m === null || typeof m !== 'object') ctx.malformed('not an object', text)
        else if (m.T === 't') tradeOf(m, ctx, seen)
        else if (m.T === 'q') ctx.stats.quotes++
        else if (m.T === 'b' || m.T === 'd' || m.T === 'u') ctx.stats.bars++
        else if (m.T === 'subscription' || m.T === 's' || m.T === 'c' || m.T === 'x') continue
        else if (m.T === 'success' || m.T === 'error') control(m, ctx)
        else ctx.malformed('unknown message', JSON.stringify(m))
      }
    },
    onStop: (ctx) => ctx.send({ action: 'unsubscribe', trades: o.symbols }),
  }
}

export const alpaca: ProviderAdapter<AlpacaOptions> = {
  name: 'alpaca',
  summary: 'Alpaca stock trades over WebSocket (key id and secret)',
  options: alpacaOptions,
  settings: {
    keyId: {
      env: 'ALPACA_KEY_ID',
      secret: true,
      required: true,
      help: 'Alpaca key id',
      schema: z.string().min(1).optional(),
    },
    secretKey: {
      env: 'ALPACA_SECRET_KEY',
      secret: true,
      required: true,
      help: 'Alpaca secret key',
      schema: z.string().min(1).optional(),
    },
    baseUrl: {
      env: 'ALPACA_WS_URL',
      help: "Alpaca stock stream base URL (…/v2) (default: the provider's documented URL)",
      schema: url.optional(),
    },
    feed: {
      env: 'ALPACA_FEED',
      help: 'Alpaca feed: iex (free) or sip (default iex)',
      schema: z.enum(['iex', 'sip']).optional(),
    },
    quotes: {
      env: 'ALPACA_QUOTES',
      help: 'also subscribe to quotes (counted, not stored; default false)',
      schema: booleanSetting.optional(),
    },
    bars: {
      env: 'ALPACA_BARS',
      help: "also subscribe to the provider's bars (counted, not stored; default false)",
      schema: booleanSetting.optional(),
    },
  },
  create(o, deps: SourceDeps): Source & { stats: FeedStats } {
    const stats = newStats()
    const seen = new RecentKeys()
    const url = `${o.baseUrl.replace(/\/+$/, '')}/${o.feed}`
    return {
      name: 'alpaca',
      stats,
      batches: () =>
        webSocketFeed({
          name: 'alpaca',
          deps,
          stats,
          url,
          safeUrl: url,
          secrets: [o.keyId, o.secretKey],
          reconnect: o.reconnect,
          connectTimeoutMs: o.connectTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          watch: 'any',
          protocol: () => protocol(o, seen),
        }),
    }
  },
}
