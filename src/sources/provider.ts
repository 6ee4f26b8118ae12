// What every provider adapter shares besides its transport: the reconnect options (bounded
// exponential backoff with full jitter, util/backoff.ts), the counters its sources expose, the
// window of recent trade keys that recognises a trade delivered again after a reconnect, and the
// wording of credential failures with secrets kept out of messages.
import { z } from 'zod'
import { ServiceError } from '../errors.ts'
import type { Source, SourceAdapter, SourceDeps } from './types.ts'

export function reconnectSchema(defaults: { initialDelayMs: number; maxDelayMs: number }) {
  return z
    .object({
      /** Upper bound of the first delay (full jitter: the delay is uniform in [0, bound)). */
      initialDelayMs: z.number().int().nonnegative().default(defaults.initialDelayMs),
      /** The bound doubles per consecutive failure up to this. */
      maxDelayMs: z.number().int().nonnegative().default(defaults.maxDelayMs),
      /** A connection that stayed up this long counts as a success: the backoff starts over. */
      resetAfterMs: z.number().int().nonnegative().default(60_000),
      /** Consecutive failures before the source gives up with an error; 0 = keep trying. */
      maxAttempts: z.number().int().nonnegative().default(0),
    })
    .prefault({})
}
export const reconnectOptions = reconnectSchema({ initialDelayMs: 500, maxDelayMs: 30_000 })
export type ReconnectOptions = z.output<typeof reconnectOptions>

/** The last `limit` keys seen: recognises a trade delivered again after a reconnect. */
export class RecentKeys {
  private readonly keys = new Set<string>()
  private readonly limit: number
  constructor(limit = 100_000) {
    this.limit = limit
  }
  /** True the first time a key is seen. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false
    this.keys.add(key)
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value!)
    return true
  }
}

export interface FeedStats {
  trades: number
  quotes: number
  bars: number
  malformed: number
  duplicates: number
  connections: number
  reconnects: number
}

/** An adapter whose sources also show what they received (for tests, `doctor` and logs). */
export interface ProviderAdapter<Options, Stats = FeedStats> extends SourceAdapter<Options> {
  create(options: Options, deps: SourceDeps): Source & { readonly stats: Stats }
}

export function newStats(): FeedStats {
  return { trades: 0, quotes: 0, bars: 0, malformed: 0, duplicates: 0, connections: 0, reconnects: 0 }
}

export function redact(text: string, secrets: string[]): string {
  let out = text
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***')
  return out
}

/** The fatal error for a provider refusing the credentials. */
export function authError(name: string, detail: string): ServiceError {
  return new ServiceError(
    name,
    `${name}: the provider rejected the credentials (${detail}); check the API key`,
    {
      retryable: false,
    },
  )
}
