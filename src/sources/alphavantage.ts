// Alpha Vantage by REST polling: GET <base>?function=GLOBAL_QUOTE&symbol=IBM&apikey=KEY answers
//   {"Global Quote":{"01. symbol":"IBM","05. price":"189.2300","06. volume":"3119387",
//    "07. latest trading day":"2024-08-08",…}}
// with every value a string (kept as sent). One request per `intervalMs`, symbols in turn: the free
// tier allows 25 requests a day, hence the one-hour default. Throttling is HTTP 200 with an
// "Information" (formerly "Note") key: no trade, and the next request waits longer (bounded
// exponential backoff with full jitter on top of the interval). A quote becomes a trade only when
// its (latest trading day, price) changes. The endpoint gives a date, not a time: the event time is
// that day's regular close, 16:00 New York, or now while that lies in the future. The size is the
// day volume traded since the previous trade of the same day (0 for the first one seen).
import { z } from 'zod'
import { url } from '../config/schema.ts'
import { ServiceError, errorMessage } from '../errors.ts'
import { isoMicros, type Trade } from '../domain/trade.ts'
import type { Source, SourceDeps } from './types.ts'
import { Backoff } from '../util/backoff.ts'
import { sleep } from '../util/timeout.ts'
import {
  authError,
  newStats,
  reconnectSchema,
  redact,
  type FeedStats,
  type ProviderAdapter,
} from './provider.ts'

export const alphavantageOptions = z.object({
  symbols: z.array(z.string().min(1).max(20)).min(1),
  apiKey: z.string().min(1),
  baseUrl: z.string().url().default('https://www.alphavantage.co/query'),
  /** Between two requests (any symbol). 1 h = 24 a day, inside the free tier's 25. */
  intervalMs: z.number().int().nonnegative().default(3_600_000),
  /** Added to the interval after a throttled or failed request. */
  reconnect: reconnectSchema({ initialDelayMs: 60_000, maxDelayMs: 3_600_000 }),
  requestTimeoutMs: z.number().int().positive().default(30_000),
})
export type AlphavantageOptions = z.output<typeof alphavantageOptions>

export interface PollStats extends FeedStats {
  requests: number
  throttled: number
  errors: number
}

interface Quote {
  symbol: string
  price: string
  volume: string
  day: string
}

type Reply =
  | { kind: 'quote'; quote: Quote }
  | { kind: 'throttled'; detail: string }
  | { kind: 'unknown'; detail: string }
  | { kind: 'failed'; detail: string; malformed?: boolean }

/** 16:00 America/New_York on `day`, in ms since the epoch. */
export function sessionClose(day: string): number {
  const noonUtc = Date.parse(`${day}T16:00:00Z`)
  const name = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'longOffset' })
    .formatToParts(noonUtc)
    .find((p) => p.type === 'timeZoneName')?.value
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '')
  const offsetMin = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0
  return noonUtc - offsetMin * 60_000
}

function parseQuote(body: unknown, symbol: string): Reply {
  if (body === null || typeof body !== 'object')
    return { kind: 'failed', detail: 'not an object', malformed: true }
  const b = body as Record<string, unknown>
  for (const key of ['Information', 'Note'])
    if (typeof b[key] === 'string') return { kind: 'throttled', detail: b[key] }
  if (typeof b['Error Message'] === 'string') {
    if (/api ?key/i.test(b['Error Message']))
      throw authError('alphavantage', 'Error Message about the API key')
    return { kind: 'unknown', detail: b['Error Message'] }
  }
  const q = b['Global Quote'] as Record<string, unknown> | undefined
  if (q === null || typeof q !== 'object')
    return { kind: 'failed', detail: 'no "Global Quote"', malformed: true }
  if (Object.keys(q).length === 0) return { kind: 'unknown', detail: `no quote for ${symbol}` }
  const price = q['05. price']
  const volume = q['06. volume']
  const day = q['07. latest trading day']
  if (
    typeof price !== 'string' ||
    !/^\d+(\.\d+)?$/.test(price) ||
    typeof volume !== 'string' ||
    !/^\d+$/.test(volume) ||
    typeof day !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}$/.test(day) ||
    !Number.isFinite(Date.parse(day))
  )
    return { kind: 'failed', detail: 'incomplete quote', malformed: true }
  const sym = typeof q['01. symbol'] === 'string' && q['01. symbol'] !== '' ? q['01. symbol'] : symbol
  return { kind: 'quote', quote: { symbol: sym.toUpperCase(), price, volume, day } }
}

async function request(o: AlphavantageOptions, symbol: string, signal: AbortSignal): Promise<Reply> {
  const url = new URL(o.baseUrl)
  url.searchParams.set('function', 'GLOBAL_QUOTE')
  url.searchParams.set('symbol', symbol)
  url.searchParams.set('apikey', o.apiKey)
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(o.requestTimeoutMs)]) })
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause
    return { kind: 'failed', detail: errorMessage(cause ?? err) }
  }
  const text = await res.text().catch(() => '')
  if (res.status === 401 || res.status === 403) throw authError('alphavantage', `HTTP ${res.status}`)
  if (res.status === 429 || res.status >= 500) return { kind: 'throttled', detail: `HTTP ${res.status}` }
  if (res.status !== 200)
    throw new ServiceError('alphavantage', `alphavantage: ${o.baseUrl} answered HTTP ${res.status}`, {
      retryable: false,
    })
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return { kind: 'failed', detail: 'not JSON', malformed: true }
  }
  return parseQuote(body, symbol)
}

/** A trade when the quote's day or price moved since the last one of the symbol. */
function observe(q: Quote, last: Map<string, Quote>): Trade | undefined {
  const prev = last.get(q.symbol)
  if (prev && prev.day === q.day && prev.price === q.price) return undefined
  if (prev && prev.day > q.day) return undefined // an older answer from a lagging replica
  last.set(q.symbol, q)
  const delta = prev && prev.day === q.day ? BigInt(q.volume) - BigInt(prev.volume) : 0n
  return {
    v: 1,
    type: 'trade',
    symbol: q.symbol,
    ts: isoMicros(Math.min(sessionClose(q.day), Date.now())),
    price: q.price,
    size: String(delta > 0n ? delta : 0n),
    source: 'alphavantage',
    id: `${q.symbol}:${q.day}:${q.price}:${q.volume}`,
  }
}

async function* poll(o: AlphavantageOptions, deps: SourceDeps, stats: PollStats): AsyncGenerator<Trade[]> {
  const { signal, log, metrics } = deps
  const backoff = new Backoff(o.reconnect)
  const last = new Map<string, Quote>()
  for (let turn = 0; !signal.aborted;) {
    const symbol = o.symbols[turn % o.symbols.length]!
    stats.requests++
    const reply = await request(o, symbol, signal)
    if (signal.aborted) break
    let wait = o.intervalMs
    if (reply.kind === 'quote' || reply.kind === 'unknown') {
      backoff.reset()
      turn++
      if (reply.kind === 'unknown')
        log.warn({ symbol, detail: redact(reply.detail, [o.apiKey]) }, 'alphavantage: no quote')
    } else {
      if (reply.kind === 'throttled') stats.throttled++
      else if (reply.malformed) stats.malformed++
      else stats.errors++
      const delay = backoff.next()
      if (delay === undefined)
        throw new ServiceError(
          'alphavantage',
          `alphavantage: gave up after ${o.reconnect.maxAttempts} failed requests`,
        )
      wait += delay
      log.warn(
        { symbol, kind: reply.kind, detail: redact(reply.detail, [o.apiKey]).slice(0, 200), waitMs: wait },
        'alphavantage: backing off',
      )
    }
    const trade = reply.kind === 'quote' ? observe(reply.quote, last) : undefined
    if (trade) {
      stats.trades++
      metrics.ticksIngested.inc({ source: 'alphavantage' })
      metrics.feedLastTickAt.set('alphavantage', Date.now())
      yield [trade]
    }
    await sleep(wait, signal)
  }
  log.info({ stats }, 'alphavantage stopped')
}

export const alphavantage: ProviderAdapter<AlphavantageOptions, PollStats> = {
  name: 'alphavantage',
  summary: 'Alpha Vantage quotes by REST polling (API key; the free tier allows 25 requests a day)',
  options: alphavantageOptions,
  settings: {
    apiKey: {
      env: 'ALPHAVANTAGE_API_KEY',
      secret: true,
      required: true,
      help: 'Alpha Vantage API key',
      schema: z.string().min(1).optional(),
    },
    baseUrl: {
      env: 'ALPHAVANTAGE_URL',
      help: "Alpha Vantage REST query URL (default: the provider's documented URL)",
      schema: url.optional(),
    },
  },
  create(o, deps: SourceDeps): Source & { stats: PollStats } {
    const stats: PollStats = { ...newStats(), requests: 0, throttled: 0, errors: 0 }
    return { name: 'alphavantage', stats, batches: () => poll(o, deps, stats) }
  },
}
