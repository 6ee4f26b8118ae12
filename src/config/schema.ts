// The configuration schema: every setting tickflow reads, where it comes from (flag and/or
// environment variable), its default and its validation. `tickflow --help` and docs/configuration.md
// are written from this table, so it is the single description of the configuration.
import { z } from 'zod'

export interface Setting {
  key: string
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
  .pipe(z.array(z.string().regex(/^[A-Z0-9][A-Z0-9.\-/:]{0,19}$/, 'bad symbol')).min(1))
const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')).min(1))
const url = z.string().url()

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

export const settings: Setting[] = [
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
    key: 'logLevel',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    help: 'fatal, error, warn, info, debug or trace',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
    help: 'where trades come from: simulator, replay, binance, finnhub, alpaca, polygon, alphavantage',
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
    key: 'allowedLateness',
    flag: 'allowed-lateness',
    env: 'TICKFLOW_ALLOWED_LATENESS',
    help: 'how long after its end a bar still takes on-time trades before it is final (later ones are counted as late)',
    schema: durationMs.default(5000),
  },
  {
    key: 'barsTimezone',
    flag: 'bars-timezone',
    env: 'TICKFLOW_BARS_TIMEZONE',
    help: 'time zone daily bars start at midnight in (e.g. America/New_York); set once per database',
    schema: z.string().refine(isTimeZone, 'unknown time zone').optional(),
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
  {
    key: 'binanceWsUrl',
    env: 'BINANCE_WS_URL',
    help: "Binance WebSocket base URL (default: the provider's documented URL)",
    schema: url.optional(),
  },
  {
    key: 'finnhubWsUrl',
    env: 'FINNHUB_WS_URL',
    help: "Finnhub WebSocket base URL (default: the provider's documented URL)",
    schema: url.optional(),
  },
  {
    key: 'alpacaWsUrl',
    env: 'ALPACA_WS_URL',
    help: "Alpaca stock stream base URL (…/v2) (default: the provider's documented URL)",
    schema: url.optional(),
  },
  {
    key: 'polygonWsUrl',
    env: 'POLYGON_WS_URL',
    help: "Polygon stocks WebSocket URL (default: the provider's documented URL)",
    schema: url.optional(),
  },
  {
    key: 'alphavantageUrl',
    env: 'ALPHAVANTAGE_URL',
    help: "Alpha Vantage REST query URL (default: the provider's documented URL)",
    schema: url.optional(),
  },
  {
    key: 'alpacaFeed',
    env: 'ALPACA_FEED',
    help: 'Alpaca feed: iex (free) or sip',
    schema: z.enum(['iex', 'sip']).default('iex'),
  },
  {
    key: 'finnhubApiKey',
    env: 'FINNHUB_API_KEY',
    secret: true,
    help: 'Finnhub API key',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'alpacaKeyId',
    env: 'ALPACA_KEY_ID',
    secret: true,
    help: 'Alpaca key id',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'alpacaSecretKey',
    env: 'ALPACA_SECRET_KEY',
    secret: true,
    help: 'Alpaca secret key',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'polygonApiKey',
    env: 'POLYGON_API_KEY',
    secret: true,
    help: 'Polygon API key',
    schema: z.string().min(1).optional(),
  },
  {
    key: 'alphavantageApiKey',
    env: 'ALPHAVANTAGE_API_KEY',
    secret: true,
    help: 'Alpha Vantage API key',
    schema: z.string().min(1).optional(),
  },
]

export interface Config {
  kafkaBrokers?: string[]
  kafkaTopic: string
  kafkaPartitions: number
  kafkaGroupId: string
  kafkaReplication?: number
  databaseUrl?: string
  dataDir: string
  httpPort: number
  httpHost: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  logFile?: string
  source: string
  symbols: string[]
  rate: number
  count?: number
  duration?: number
  seed?: number
  speed: number
  start?: number
  maxSkew?: number
  dlqTopic: string
  allowedLateness: number
  barsTimezone?: string
  finnhubApiKey?: string
  binanceWsUrl?: string
  finnhubWsUrl?: string
  alpacaWsUrl?: string
  polygonWsUrl?: string
  alphavantageUrl?: string
  alpacaFeed: 'iex' | 'sip'
  alpacaKeyId?: string
  alpacaSecretKey?: string
  polygonApiKey?: string
  alphavantageApiKey?: string
}
