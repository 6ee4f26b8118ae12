// The one retry delay of tickflow: a bound that doubles per attempt up to a cap, and jitter so that
// many clients retrying after the same outage do not retry in step. Every retry loop (the bus
// producer and consumer, the source pump, the processor, the schema registry, the provider
// reconnects, the dashboard's live socket) takes its delay from here with its own numbers.

export interface BackoffPolicy {
  /** The bound of the first retry's delay. */
  initialMs: number
  /** No delay is longer than this. */
  maxMs: number
  /** The bound stops doubling after this many attempts (keeps 2 ** n finite). Default 40. */
  maxDoublings?: number
  /**
   * full: uniform in [0, bound) (spreads retries the most); equal: uniform in [bound/2, bound)
   * (never retries at once); none: the bound itself.
   */
  jitter: 'full' | 'equal' | 'none'
}

/** The delay before retry `attempt` (0 for the first), in milliseconds. */
export function backoffDelay(p: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const bound = Math.min(p.maxMs, p.initialMs * 2 ** Math.min(attempt, p.maxDoublings ?? 40))
  if (p.jitter === 'full') return random() * bound
  if (p.jitter === 'equal') return bound * (0.5 + random() / 2)
  return bound
}

export interface RetryLimits {
  /** Upper bound of the first delay (full jitter: the delay is uniform in [0, bound)). */
  initialDelayMs: number
  /** The bound doubles per consecutive failure up to this. */
  maxDelayMs: number
  /** Consecutive failures before giving up; 0 = keep trying. */
  maxAttempts: number
}

/** Consecutive failures of one connection or request, and the whole milliseconds to wait after each. */
export class Backoff {
  private failures = 0
  private readonly o: RetryLimits
  private readonly random: () => number
  constructor(o: RetryLimits, random: () => number = Math.random) {
    this.o = o
    this.random = random
  }
  get attempts(): number {
    return this.failures
  }
  /** The delay before the next attempt, or undefined once maxAttempts failures happened in a row. */
  next(): number | undefined {
    this.failures++
    if (this.o.maxAttempts > 0 && this.failures > this.o.maxAttempts) return undefined
    const policy = { initialMs: this.o.initialDelayMs, maxMs: this.o.maxDelayMs, jitter: 'full' } as const
    return Math.floor(backoffDelay(policy, this.failures - 1, this.random))
  }
  reset(): void {
    this.failures = 0
  }
}
