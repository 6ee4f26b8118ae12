// Every source adapter has the same shape: a name, a zod schema of its options, the settings it
// reads, its doctor check, and create(), which returns a Source. sources/registry.ts lists them and
// derives the rest (configuration docs, help, doctor, .env.example); adding a provider is adding one
// file and its line in the registry.
import type { z } from 'zod'
import type { Setting } from '../config/schema.ts'
import type { Logger } from 'pino'
import type { Trade, UnparsedRecord } from '../domain/trade.ts'
import type { Metrics } from '../metrics/registry.ts'

export interface SourceDeps {
  log: Logger
  metrics: Metrics
  /** Aborted when the process is asked to stop: the source finishes its current batch and returns. */
  signal: AbortSignal
  /** The store's last price per symbol, when the process has a store (the simulator resumes from it). */
  lastPrices?: (symbols: string[]) => Promise<Record<string, string>>
}

export interface Source {
  readonly name: string
  /**
   * Batches of trades in arrival order. Ends by itself for finite sources (replay, --count) or when
   * the signal aborts. A fatal error (bad API key) is thrown, not retried. A record that cannot be
   * a trade is passed on as an UnparsedRecord, so it is dead-lettered rather than lost.
   */
  batches(): AsyncIterable<(Trade | UnparsedRecord)[]>
  /** Checks what can be checked before anything else starts (a replay's file); throws one clear error. */
  check?(): Promise<void>
}

/**
 * A setting a source reads (flag, environment variable, `.env`), named by the option it fills. Its
 * schema parses the text; unset leaves the option's own default.
 */
export interface SourceSetting extends Omit<Setting, 'key'> {
  /** The source cannot start without it: start-up and doctor name the missing variable. */
  required?: boolean
}

/** doctor's line for the selected source. */
export interface SourceCheck {
  status: 'ok' | 'FAIL' | 'note'
  detail: string
}

export interface SourceAdapter<Options = unknown> {
  name: string
  /** One line for help and the configuration docs. */
  summary: string
  options: z.ZodType<Options>
  /** The settings the registry reads for this source, by the option each one fills. */
  settings?: Readonly<Record<string, SourceSetting>>
  /**
   * doctor's check when this source is selected, given the values of its settings (by option).
   * Default: whether the required settings are set.
   */
  doctor?(values: Record<string, unknown>): SourceCheck | Promise<SourceCheck>
  create(options: Options, deps: SourceDeps): Source
}
