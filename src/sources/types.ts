// Every source adapter has the same shape: a name, a zod schema of its options, and create(),
// which returns a Source. sources/registry.ts lists them; adding a provider is adding one file.
import type { z } from 'zod'
import type { Logger } from 'pino'
import type { Trade } from '../processor/trade.ts'
import type { Metrics } from '../metrics/registry.ts'

export interface SourceDeps {
  log: Logger
  metrics: Metrics
  /** Aborted when the process is asked to stop: the source finishes its current batch and returns. */
  signal: AbortSignal
}

export interface Source {
  readonly name: string
  /**
   * Batches of trades in arrival order. Ends by itself for finite sources (replay, --count) or when
   * the signal aborts. A fatal error (bad API key) is thrown, not retried.
   */
  batches(): AsyncIterable<Trade[]>
}

export interface SourceAdapter<Options = unknown> {
  name: string
  options: z.ZodType<Options>
  create(options: Options, deps: SourceDeps): Source
}
