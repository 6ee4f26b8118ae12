// The one error catalogue. Every error tickflow raises on purpose carries a stable `code` (documented
// in docs/errors.md), whether retrying can help, and the error that caused it.

export interface TickflowErrorOptions {
  cause?: unknown
  retryable?: boolean
  status?: number
}

export class TickflowError extends Error {
  readonly code: string
  readonly retryable: boolean
  /** HTTP status when the error reaches an API client. */
  readonly status: number

  constructor(code: string, message: string, options: TickflowErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = 'TickflowError'
    this.code = code
    this.retryable = options.retryable ?? false
    this.status = options.status ?? 500
  }
}

/** A flag, environment variable or `.env` value failed validation. */
export class ConfigError extends TickflowError {
  constructor(message: string) {
    super('TF_CONFIG', message, { status: 500 })
    this.name = 'ConfigError'
  }
}

/** The command line named an unknown command or flag. */
export class UsageError extends TickflowError {
  constructor(message: string) {
    super('TF_USAGE', message)
    this.name = 'UsageError'
  }
}

/** A service (Kafka, PostgreSQL, a provider) could not be reached or refused the request. */
export class ServiceError extends TickflowError {
  constructor(service: string, message: string, options: TickflowErrorOptions = {}) {
    super(`TF_${service.toUpperCase()}`, message, { retryable: true, ...options })
    this.name = 'ServiceError'
  }
}

/** An API request had a bad parameter; `param` names it. */
export class BadRequestError extends TickflowError {
  readonly param: string
  constructor(param: string, message: string) {
    super('TF_BAD_REQUEST', message, { status: 400 })
    this.name = 'BadRequestError'
    this.param = param
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
