// The configuration schema: every setting tickflow reads, where it comes from (flag and/or
// environment variable), its default and its validation. `tickflow --help`, the `Config` type and
// docs/configuration.md (npm run docs:config) are derived from this table, so it is the single
// description of the configuration. Adding a setting is adding one entry to the table. A source's
// own settings (a provider's key, base URL, options) are declared in its file (src/sources/) and
// read by the same loader; the command line joins the two lists.
import { z } from 'zod'
import { isSymbol } from '../domain/symbol.ts'

export interface Setting {
  readonly key: string
  flag?: string
  env?: string
  secret?: boolean
  help: string
  schema: z.ZodType
}

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** "30s", "500ms", "2m", "1h" → milliseconds. */
export const durationMs = z
  .string()
  .regex(durationPattern, 'expected a duration such as 500ms, 30s, 5m or 1h')
  .transform((s) => {
    const [, n, unit] = durationPattern.exec(s)!
    return Math.round(Number(n) * units[unit!]!)
  })

const retentionPattern = /^(\d+)(h|d|w|y)$/
const retentionUnits: Record<string, number> = {
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
}
/** How long to keep data: "36h", "90d", "12w", "5y" (a year = 365 days) → milliseconds. */
const retention = z
  .string()
  .regex(retentionPattern, 'expected a period such as 36h, 90d, 12w or 5y')
  .transform((s) => {
    const [, n, unit] = retentionPattern.exec(s)!
    return Number(n) * retentionUnits[unit!]!
  })
  .optional()
const retained = <K extends string>(key: K, env: string, what: string) => ({
  key,
  env,
  help: `how long to keep ${what} (e.g. 90d; unset = for ever); applied by tickflow process (hourly) and tickflow purge`,
  schema: retention,
})

/**
 * The processor's default batch linger: none. 25 ms cut the CPU per trade by about a third at
 * 10,000 trades/s while each batch went out as its own produce request (docs/benchmarks.md,
 * "Nineteenth pass"); with the producer's linger it saved no CPU measurable in alternating runs (14 %
 * in one full run) and added about 40-50 ms to p99 ("Twenty-fourth pass").
 */
export const DEFAULT_BATCH_LINGER_MS = 0

/**
 * The Kafka producer's default linger: sends within it go out as one produce request. At 10,000
 * trades/s the simulator hands over a batch every 7 ms; one request per batch cost the broker
 * 38.8 us of CPU per trade against 17.8 with a 15 ms linger, medians of alternating runs
 * (docs/benchmarks.md, "Twenty-third pass"). Kafka's own producer lingers 5 ms by default.
 */
export const DEFAULT_PRODUCER_LINGER_MS = 15

const positiveInt = z.coerce.number().int().positive()
const nonNegativeNumber = z.coerce.number().finite().nonnegative()
const symbolList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim().toUpperCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().refine(isSymbol, 'bad symbol')).min(1))
const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')).min(1))
/** A URL setting. */
export const url = z.string().url()
/** A yes/no setting: true/false, 1/0, yes/no. */
export const booleanSetting = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], 'expected true or false')
  .transform((s) => s === 'true' || s === '1' || s === 'yes')

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const table = [
  {
    key: 'kafkaBrokers',
    flag: 'brokers',
    env: 'KAFKA_BROKERS',
    help: 'Kafka bootstrap servers, host:port[,host:port]; unset = in-process bus',
    schema: brokerList.optional(),
  },
  {
    key: 'kafkaTopic',
    flag: 'topic',
    env: 'KAFKA_TOPIC',
    help: 'topic of trade events',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/)
      .default('ticks'),
  },
  {
    key: 'kafkaPartitions',
    flag: 'partitions',
    env: 'KAFKA_PARTITIONS',
    help: 'partitions when tickflow creates the topic',
    schema: positiveInt.default(6),
  },
  {
    key: 'kafkaReplication',
    flag: 'replication',
    env: 'KAFKA_REPLICATION',
    help: "replication factor when tickflow creates a topic (default: the broker's default.replication.factor)",
    schema: positiveInt.optional(),
  },
  {
    key: 'kafkaGroupId',
    flag: 'group',
    env: 'KAFKA_GROUP_ID',
    help: 'consumer group of the processor',
    schema: z.string().min(1).default('tickflow-processor'),
  },
  {
    key: 'processThreads',
    flag: 'threads',
    env: 'TICKFLOW_PROCESS_THREADS',
    help: 'tickflow process: consumers of the group this process runs, each in its own thread with its own PostgreSQL connections (more than 1 needs DATABASE_URL)',
    schema: positiveInt.max(64).default(1),
  },
  {
    key: 'schemaRegistryUrl',
    flag: 'schema-registry',
    env: 'SCHEMA_REGISTRY_URL',
    help: 'Confluent-compatible schema registry (e.g. http://127.0.0.1:8081, or Apicurio at .../apis/ccompat/v7); set = Avro trades by default',
    schema: url.optional(),
  },
  {
    key: 'schemaRegistryUsername',
    env: 'SCHEMA_REGISTRY_USERNAME',
    help: 'basic-auth user of the schema registry (environment only)',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'schemaRegistryPassword',
    env: 'SCHEMA_REGISTRY_PASSWORD',
    secret: true,
    help: 'basic-auth password of the schema registry (environment only)',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'wireFormat',
    flag: 'wire-format',
    env: 'TICKFLOW_WIRE_FORMAT',
    help: 'format the producer writes: avro (Confluent wire format, needs the registry) or json; default avro when a registry is set, else json',
    schema: z.enum(['avro', 'json']).optional(),
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'DATABASE_URL',
    secret: true,
    help: 'PostgreSQL URL; unset = embedded PGlite in the data directory',
    schema: url.optional(),
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'TICKFLOW_DATA_DIR',
    help: 'directory of the embedded database',
    schema: z.string().min(1).default('./data'),
  },
  {
    key: 'embeddedOptimize',
    flag: 'embedded-optimize',
    env: 'TICKFLOW_EMBEDDED_OPTIMIZE',
    help: 'V8 optimisation of the embedded database: on (bulk ingest ~1.6x faster, 0.2-0.6 GiB more memory), off, or auto (on for a replay at --speed 0, the simulator at --rate 0, a daily-bars import)',
    schema: z.enum(['auto', 'on', 'off']).default('auto'),
  },
  {
    key: 'httpPort',
    flag: 'port',
    env: 'HTTP_PORT',
    help: 'HTTP port of the API, dashboard and /metrics (0 = any free port)',
    schema: z.coerce.number().int().min(0).max(65535).default(8080),
  },
  {
    key: 'httpHost',
    flag: 'host',
    env: 'HTTP_HOST',
    help: 'address the HTTP server binds (0.0.0.0 in containers)',
    schema: z.string().min(1).default('127.0.0.1'),
  },
  {
    key: 'httpCorsOrigins',
    env: 'HTTP_CORS_ORIGINS',
    help: 'comma-separated origins allowed to call the API from a browser (e.g. https://app.example.com), * for any; default none',
    schema: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(/^(\*|https?:\/\/[^/\s,]+)$/, 'expected origins such as https://app.example.com, or *'),
        ),
      )
      .default([]),
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    help: 'fatal, error, warn, info, debug or trace',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    env: 'LOG_FORMAT',
    help: 'auto (readable lines on a terminal, JSON otherwise), json or pretty',
    schema: z.enum(['auto', 'json', 'pretty']).default('auto'),
  },
  {
    key: 'logFile',
    flag: 'log-file',
    env: 'LOG_FILE',
    help: 'write JSON logs to this file instead of standard output',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'source',
    flag: 'source',
    env: 'TICKFLOW_SOURCE',
    help: 'where trades come from: one of the sources listed by tickflow --help',
    schema: z.string().min(1).default('simulator'),
  },
  {
    key: 'symbols',
    flag: 'symbols',
    env: 'TICKFLOW_SYMBOLS',
    help: 'comma-separated symbols',
    schema: symbolList.default(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL']),
  },
  {
    key: 'rate',
    flag: 'rate',
    env: 'TICKFLOW_RATE',
    help: 'simulator: trades per second over all symbols (0 = as fast as possible)',
    schema: nonNegativeNumber.default(200),
  },
  { key: 'count', flag: 'count', help: 'stop after this many trades', schema: positiveInt.optional() },
  {
    key: 'duration',
    flag: 'duration',
    help: 'stop after this long, e.g. 30s',
    schema: durationMs.optional(),
  },
  {
    key: 'seed',
    flag: 'seed',
    env: 'TICKFLOW_SEED',
    help: 'simulator seed (deterministic runs)',
    schema: z.coerce.number().int().nonnegative().optional(),
  },
  {
    key: 'maxSkew',
    flag: 'max-skew',
    env: 'TICKFLOW_MAX_SKEW',
    help: 'reject trades whose event time is further than this from now (e.g. 5m; unset = no check)',
    schema: durationMs.optional(),
  },
  {
    key: 'maxFuture',
    flag: 'max-future',
    env: 'TICKFLOW_MAX_FUTURE',
    help: 'trades whose event time is more than this ahead of now are dead letters (future_timestamp); the past is always allowed',
    schema: durationMs.default(3_600_000),
  },
  {
    key: 'maxMessageBytes',
    flag: 'max-message-bytes',
    env: 'TICKFLOW_MAX_MESSAGE_BYTES',
    help: "messages larger than this are dead letters (oversized); default: the topic's max.message.bytes",
    schema: positiveInt.optional(),
  },
  {
    key: 'allowedLateness',
    flag: 'allowed-lateness',
    env: 'TICKFLOW_ALLOWED_LATENESS',
    help: 'how long after its end a bar still takes on-time trades before it is final (later ones are counted as late)',
    schema: durationMs.default(5000),
  },
  {
    key: 'batchLinger',
    flag: 'batch-linger',
    env: 'TICKFLOW_BATCH_LINGER',
    help: 'how long the processor lets a batch from Kafka that is not full wait for more messages: longer means fewer, larger transactions (less CPU per trade) and more latency; 0ms hands each batch out at once',
    schema: durationMs.refine((ms) => ms <= 10_000, 'at most 10s').default(DEFAULT_BATCH_LINGER_MS),
  },
  {
    key: 'producerLinger',
    flag: 'producer-linger',
    env: 'TICKFLOW_PRODUCER_LINGER',
    help: 'how long a send to Kafka waits for more sends to go out with it in one request: longer means fewer requests (less broker CPU per trade) and more latency; 0ms sends each at once',
    schema: durationMs.refine((ms) => ms <= 1000, 'at most 1s').default(DEFAULT_PRODUCER_LINGER_MS),
  },
  {
    key: 'barsTimezone',
    flag: 'bars-timezone',
    env: 'TICKFLOW_BARS_TIMEZONE',
    help: 'time zone daily bars start at midnight in (e.g. America/New_York); set once per database',
    schema: z.string().refine(isTimeZone, 'unknown time zone').optional(),
  },
  {
    key: 'alertWebhookTimeout',
    env: 'TICKFLOW_ALERT_WEBHOOK_TIMEOUT',
    help: 'how long one alert webhook request may take before it counts as failed and is retried',
    schema: durationMs.default(5000),
  },
  {
    key: 'alertWebhookMaxBackoff',
    env: 'TICKFLOW_ALERT_WEBHOOK_MAX_BACKOFF',
    help: 'the longest wait between two attempts of an alert webhook (the wait doubles from 500ms up to it)',
    schema: durationMs.default(60_000),
  },
  {
    key: 'dlqTopic',
    flag: 'dlq-topic',
    env: 'KAFKA_DLQ_TOPIC',
    help: 'dead-letter topic (Kafka only)',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/)
      .default('ticks.dlq'),
  },
  {
    key: 'start',
    flag: 'start',
    env: 'TICKFLOW_SIM_START',
    help: 'simulator: event time of the first trade (ISO-8601); with --seed the trades are identical run to run',
    schema: z
      .string()
      .datetime({ offset: true })
      .transform((s) => Date.parse(s))
      .optional(),
  },
  {
    key: 'speed',
    flag: 'speed',
    help: 'replay: 1 = real time, 0 = as fast as possible, N = N times real time',
    schema: nonNegativeNumber.default(0),
  },
  retained(
    'retainTicks',
    'TICKFLOW_RETAIN_TICKS',
    'ticks and the alert firings of their trades, by event time',
  ),
  retained(
    'retainTradeIds',
    'TICKFLOW_RETAIN_TRADE_IDS',
    'trade ids (the dedupe window; never longer than ticks)',
  ),
  retained('retainDeadLetters', 'TICKFLOW_RETAIN_DEAD_LETTERS', 'dead letters, by time received'),
  retained('retainBars1s', 'TICKFLOW_RETAIN_BARS_1S', '1s bars'),
  retained('retainBars1m', 'TICKFLOW_RETAIN_BARS_1M', '1m bars'),
  retained('retainBars5m', 'TICKFLOW_RETAIN_BARS_5M', '5m bars'),
  retained('retainBars1h', 'TICKFLOW_RETAIN_BARS_1H', '1h bars'),
  retained('retainBars1d', 'TICKFLOW_RETAIN_BARS_1D', '1d bars'),
] as const satisfies readonly Setting[]

/** The settings in table order (help, docs, loading). */
export const settings: readonly Setting[] = table

type Shape = { [S in (typeof table)[number] as S['key']]: S['schema'] }

/**
 * All settings as one object schema: its output type is `Config`, so a setting's type is written
 * once, in its schema. (Object.fromEntries loses the per-key types the table has, hence the cast.)
 */
export const configSchema = z.object(Object.fromEntries(settings.map((s) => [s.key, s.schema])) as Shape)

export type Config = z.output<typeof configSchema>
