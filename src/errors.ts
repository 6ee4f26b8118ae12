// The one error catalogue. Every error tickflow raises on purpose carries a stable `code` from the
// closed list below (each documented in docs/errors.md; a test compares the two), whether retrying
// can help, and the error that caused it.

/** Every code tickflow raises, with when. Adding a code is adding it here and in docs/errors.md. */
export const errorCodes = {
  TF_CONFIG: 'a flag, environment variable or .env value is invalid (exit code 2)',
  TF_USAGE: 'an unknown command or flag, or a missing argument (exit code 2)',
  TF_KAFKA: 'the Kafka brokers cannot be reached or refuse a request for good',
  TF_POSTGRES: 'PostgreSQL (DATABASE_URL) cannot be reached or refuses the connection',
  TF_PROVIDER: 'a market-data provider refuses the credentials or cannot be reached for good',
  TF_DATA_DIR_LOCKED: 'the embedded data directory is held by another live tickflow process',
  TF_HTTP_LISTEN: 'the HTTP port cannot be bound (in use or not permitted)',
  TF_FILE: 'an input file is missing or cannot be read',
  TF_REPLAY_COLUMNS: 'a replay file has no column for a needed field',
  TF_REPLAY_TIME: "a replay file's times have no zone or an unclear unit",
  TF_REPLAY_PRICE: '--price-divisor is given but the prices are not integers',
  TF_REPLAY_FILE: 'the replay file cannot be read, is not text or gzip, or is cut short or corrupt part-way',
  TF_SQL: 'a statement given to tickflow sql failed',
  TF_NO_STORE: 'tickflow sql found no embedded store in the data directory',
  TF_TOPIC_RECREATED: 'the Kafka topic was deleted and created again while the processor ran',
  TF_STORE_VERSION: 'the store was migrated by a newer tickflow (it holds migrations this one does not know)',
  TF_DISK_FULL: "the disk holding the store (the embedded data directory, or PostgreSQL's) is full",
  TF_REGISTRY: 'the schema registry cannot be reached or fails a request',
  TF_SCHEMA_REJECTED: 'the schema registry refused the producer schema (incompatible or invalid)',
  TF_SPARK: 'the Spark job (analytics/spark) is not built, or java cannot start it',
  TF_BAD_REQUEST: 'an API parameter is invalid (HTTP 400)',
  TF_INTERNAL: 'an unexpected failure (a bug): please report it with the LOG_LEVEL=debug output',
} as const

export type ErrorCode = keyof typeof errorCodes

export interface TickflowErrorOptions {
  cause?: unknown
  retryable?: boolean
  status?: number
}

export class TickflowError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  /** HTTP status when the error reaches an API client. */
  readonly status: number

  constructor(code: ErrorCode, message: string, options: TickflowErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = 'TickflowError'
    this.code = code
    this.retryable = options.retryable ?? false
    this.status = options.status ?? 500
  }
}

/** A flag, environment variable or `.env` value failed validation. */
export class ConfigError extends TickflowError {
  constructor(message: string, options: TickflowErrorOptions = {}) {
    super('TF_CONFIG', message, options)
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

const serviceCodes = {
  kafka: 'TF_KAFKA',
  postgres: 'TF_POSTGRES',
  registry: 'TF_REGISTRY',
} as const satisfies Record<string, ErrorCode>

/**
 * A service (Kafka, PostgreSQL, a provider) could not be reached or refused the request. Providers
 * share TF_PROVIDER; `service` names which one.
 */
export class ServiceError extends TickflowError {
  readonly service: string
  constructor(service: string, message: string, options: TickflowErrorOptions = {}) {
    const code: ErrorCode = service in serviceCodes ? serviceCodes[service as 'kafka'] : 'TF_PROVIDER'
    super(code, message, { retryable: true, ...options })
    this.name = 'ServiceError'
    this.service = service
  }
}

/**
 * A source's input ended part-way (a replay file cut short or corrupt): the records read before
 * it are good and were sent on, so the command stores them before it fails.
 */
export class InputCutShortError extends TickflowError {
  constructor(message: string, options: TickflowErrorOptions = {}) {
    super('TF_REPLAY_FILE', message, options)
    this.name = 'InputCutShortError'
  }
}

/**
 * The disk holding the store is full. What was committed stays; what was in hand was not stored and
 * is stored when the command runs again after space is freed.
 */
export class DiskFullError extends TickflowError {
  constructor(message: string, options: TickflowErrorOptions = {}) {
    super('TF_DISK_FULL', message, options)
    this.name = 'DiskFullError'
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

/** The message of anything thrown, never `[object Object]`. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    if (err.message) return err.message
    // AggregateError (e.g. a connection refused on every address) keeps the reasons in `errors`.
    if (err instanceof AggregateError && err.errors.length > 0) return errorMessage(err.errors[0])
    return err.name
  }
  if (typeof err === 'object' && err !== null) {
    const m = (err as { message?: unknown }).message
    if (typeof m === 'string' && m) return m
    try {
      return JSON.stringify(err)
    } catch {
      return Object.prototype.toString.call(err)
    }
  }
  return String(err)
}
