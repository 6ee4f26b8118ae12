// Polygon.io (now Massive) stocks WebSocket, `wss://socket.massive.com/stocks`:
//   server [{"ev":"status","status":"connected",…}] → client {"action":"auth","params":KEY}
//   server [{"ev":"status","status":"auth_success",…}] (or "auth_failed": fatal)
//   client {"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL"} → [{"ev":"status","status":"success",…}]
//   trades: [{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784,"q":3681328}]
// Quotes (Q) and minute aggregates (AM, A) are parsed and counted. `t` (ms) is the event time.
import { z } from 'zod'
import { booleanSetting, url } from '../config/schema.ts'
import { ServiceError } from '../errors.ts'
import type { Trade } from '../domain/trade.ts'
import { rawCodes, type Plan } from '../domain/conditions.ts'
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

export const polygonOptions = z.object({
  symbols: z.array(z.string().min(1).max(20)).min(1),
  apiKey: z.string().min(1),
  baseUrl: z.string().url().default('wss://socket.massive.com/stocks'),
  quotes: z.boolean().default(false),
  /** Subscribe to per-minute aggregates (AM) too. */
  bars: z.boolean().default(false),
  reconnect: reconnectOptions,
  connectTimeoutMs: z.number().int().positive().default(10_000),
  idleTimeoutMs: z.number().int().nonnegative().default(90_000),
})
export type PolygonOptions = z.output<typeof polygonOptions>

interface PolygonMessage {
  ev?: unknown
  status?: unknown
  message?: unknown
  sym?: unknown
  x?: unknown
  i?: unknown
  p?: unknown
  s?: unknown
  t?: unknown
  trfi?: unknown
  c?: unknown
  z?: unknown
}

// Polygon's condition ids → the SIP code each stands for, per plan (Polygon's conditions glossary,
// "SIP Mapping"). A trade's tape `z` (1, 2: CTA; 3: UTP) picks the plan.
const POLYGON_SIP: Record<number, { CTA?: string; UTP?: string }> = {
  0: { CTA: '@', UTP: '@' },
  1: { UTP: 'A' },
  2: { CTA: 'B', UTP: 'W' },
  3: { CTA: 'E' },
  4: { UTP: 'B' },
  5: { UTP: 'G' },
  7: { CTA: 'C', UTP: 'C' },
  8: { UTP: '6' },
  9: { CTA: 'X', UTP: 'X' },
  10: { CTA: '4', UTP: '4' },
  11: { UTP: 'D' },
  12: { CTA: 'T', UTP: 'T' },
  13: { CTA: 'U', UTP: 'U' },
  14: { CTA: 'F', UTP: 'F' },
  15: { CTA: 'M', UTP: 'M' },
  16: { CTA: 'Q', UTP: 'Q' },
  17: { CTA: 'O' },
  18: { CTA: '5' },
  19: { CTA: '6' },
  20: { CTA: 'N', UTP: 'N' },
  21: { CTA: 'H', UTP: 'H' },
  22: { CTA: 'P', UTP: 'P' },
  23: { UTP: 'K' },
  24: { CTA: 'K' },
  25: { UTP: 'O' },
  27: { UTP: '1' },
  28: { UTP: '5' },
  29: { CTA: 'R', UTP: 'R' },
  30: { CTA: 'L', UTP: 'L' },
  33: { CTA: 'Z', UTP: 'Z' },
  34: { UTP: 'S' },
  36: { UTP: 'Y' },
  37: { CTA: 'I', UTP: 'I' },
  38: { CTA: '9', UTP: '9' },
  52: { CTA: 'V', UTP: 'V' },
  53: { CTA: '7', UTP: '7' },
  56: { UTP: 'E' },
}

/** A Polygon condition id as `<plan>:<SIP code>`, or `polygon:<id>` when it has none on the tape. */
export function polygonCondition(id: string, tape: unknown): string {
  const plan: Plan | undefined = tape === 1 || tape === 2 ? 'CTA' : tape === 3 ? 'UTP' : undefined
  const code = plan === undefined ? undefined : POLYGON_SIP[Number(id)]?.[plan]
  return code === undefined || !/^\d+$/.test(id) ? `polygon:${id}` : `${plan}:${code}`
}

function scalar(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : ''
}

function tradeOf(m: PolygonMessage, ctx: FeedContext, seen: RecentKeys): void {
  const price = decimalString(m.p)
  const size = decimalString(m.s)
  const ts = eventTime(m.t)
  const tradeId = scalar(m.i) || undefined
  if (typeof m.sym !== 'string' || typeof m.p !== 'number' || !tradeId || !price || !size || !ts)
    return ctx.malformed('incomplete trade', JSON.stringify(m))
  // Trade ids are unique per ticker, exchange and TRF (and day); the store deduplicates per source.
  const trf = scalar(m.trfi)
  const id = `${m.sym}:${scalar(m.x)}:${ts.slice(0, 10)}:${tradeId}${trf === '' ? '' : `:${trf}`}`
  if (!seen.add(id)) {
    ctx.stats.duplicates++
    return
  }
  const codes = rawCodes(m.c)
  if (codes === null) return ctx.malformed('conditions are not a list of codes', JSON.stringify(m))
  const trade: Trade = { v: 1, type: 'trade', symbol: m.sym, ts, price, size, source: 'polygon', id }
  if (codes && codes.length > 0) trade.conditions = codes.map((c) => polygonCondition(c, m.z))
  ctx.trade(trade)
}

function protocol(o: PolygonOptions, seen: RecentKeys): FeedProtocol {
  const channels = o.symbols.flatMap((s) => [
    `T.${s}`,
    ...(o.quotes ? [`Q.${s}`] : []),
    ...(o.bars ? [`AM.${s}`] : []),
  ])
  const status = (m: PolygonMessage, ctx: FeedContext): void => {
    const detail = typeof m.message === 'string' ? m.message : String(m.status)
    switch (m.status) {
      case 'connected':
        return ctx.send({ action: 'auth', params: o.apiKey })
      case 'auth_success':
        return ctx.send({ action: 'subscribe', params: channels.join(',') })
      case 'auth_failed':
        throw authError('polygon', detail)
      case 'auth_timeout':
      case 'max_connections':
        throw new ServiceError('polygon', `polygon: ${detail}`)
      case 'success':
        return
      default:
        return ctx.malformed(`status ${String(m.status)}: ${detail}`, JSON.stringify(m))
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
      for (const m of msgs as (PolygonMessage | null)[]) {
        if (m === null || typeof m !== 'object') ctx.malformed('not an object', text)
        else if (m.ev === 'T') tradeOf(m, ctx, seen)
        else if (m.ev === 'Q') ctx.stats.quotes++
        else if (m.ev === 'AM' || m.ev === 'A') ctx.stats.bars++
        else if (m.ev === 'status') status(m, ctx)
        else ctx.malformed('unknown message', JSON.stringify(m))
      }
    },
    onStop: (ctx) => ctx.send({ action: 'unsubscribe', params: channels.join(',') }),
  }
}

export const polygon: ProviderAdapter<PolygonOptions> = {
  name: 'polygon',
  summary: 'Polygon (Massive) stock trades over WebSocket (API key)',
  options: polygonOptions,
  settings: {
    apiKey: {
      env: 'POLYGON_API_KEY',
      secret: true,
      required: true,
      help: 'Polygon API key',
      schema: z.string().min(1).optional(),
    },
    baseUrl: {
      env: 'POLYGON_WS_URL',
      help: "Polygon stocks WebSocket URL (default: the provider's documented URL)",
      schema: url.optional(),
    },
    quotes: {
      env: 'POLYGON_QUOTES',
      help: 'also subscribe to quotes (counted, not stored; default false)',
      schema: booleanSetting.optional(),
    },
    bars: {
      env: 'POLYGON_BARS',
      help: 'also subscribe to per-minute aggregates (counted, not stored; default false)',
      schema: booleanSetting.optional(),
    },
  },
  create(o, deps: SourceDeps): Source & { stats: FeedStats } {
    const stats = newStats()
    const seen = new RecentKeys()
    return {
      name: 'polygon',
      stats,
      batches: () =>
        webSocketFeed({
          name: 'polygon',
          deps,
          stats,
          url: o.baseUrl,
          safeUrl: o.baseUrl,
          secrets: [o.apiKey],
          reconnect: o.reconnect,
          connectTimeoutMs: o.connectTimeoutMs,
          idleTimeoutMs: o.idleTimeoutMs,
          watch: 'any',
          protocol: () => protocol(o, seen),
        }),
    }
  },
}
