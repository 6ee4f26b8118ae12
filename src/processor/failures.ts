// What a failed batch write means. Transient failures (a database or broker unreachable, a
// timeout, a lost connection) are retried with backoff and the batch kept whole; a failure caused
// by the batch's content (PostgreSQL refusing a value, the broker refusing a message) will fail
// every retry, so the processor isolates the message(s) causing it instead (processor.ts).
import { TickflowError, errorMessage } from '../errors.ts'
import { causes } from '../util/causes.ts'

/** A failure of one step of a batch write, named so the retry log says what failed. */
export class StepError extends Error {
  readonly step: string
  constructor(step: string, cause: unknown) {
    super(`${step} failed: ${errorMessage(cause)}`, { cause })
    this.step = step
  }
}

// SQLSTATE classes caused by the data written: 22 data exception (a value out of range, an
// untranslatable character), 23 integrity constraint violation (no partition for a row), 54
// program limit exceeded (a value or row too large).
const CONTENT_SQLSTATE = /^(22|23|54)/

/** True when retrying the same messages cannot succeed. */
export function isContentFailure(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CONTENT_SQLSTATE.test(code)) return true
    // The bus marks a broker's refusal of the messages themselves as not retryable.
    if (e instanceof TickflowError && !e.retryable && e.code === 'TF_KAFKA') return true
  }
  return false
}

/** The step that failed (database write unless a step said otherwise). */
export function failedStep(err: unknown): string {
  return err instanceof StepError ? err.step : 'database write'
}
