// GET /api/v1/indicators: an indicator over the stored bars of one symbol and interval, paged and
// exported exactly like /api/v1/bars (one row per bar, same buckets, same cursors).
//
// Computed on read from the bars as they are now, so a late trade that changed a bar changes every
// value from that bar on in the next read. Each read takes the bars the first value of the page
// needs before it (its lookback: period-1 bars for SMA, the session for VWAP, the whole series for
// the recursive EMA, RSI and MACD), so a page's values do not depend on where the page starts.
import type { FastifyInstance } from 'fastify'
import type { Db } from '../store/db.ts'
import { BadRequestError } from '../errors.ts'
import { INTERVALS } from '../domain/types.ts'
import {
  DEFAULT_PERIOD,
  INDICATOR_NAMES,
  OUTPUTS,
  createIndicator,
  lookback,
  type Indicator,
  type IndicatorBar,
  type IndicatorName,
  type IndicatorSpec,
} from '../domain/indicators.ts'
import { queryBars } from './queries.ts'
import { sendCsv } from './csv.ts'
import { errorResponses, listQuery, page, symbolParam } from './openapi.ts'
import { ALL, barRange, pageOf, parseList, type ListQuery } from './paging.ts'
import { cursorTime, parseSymbol } from './params.ts'

export interface IndicatorParams {
  name: string
  period?: number
  fast?: number
  slow?: number
  signal?: number
  k?: number
}

const MAX_PERIOD = 1000
const int = (description: string) => ({ type: 'integer', description })

export const indicatorParams = {
  name: { type: 'string', enum: [...INDICATOR_NAMES], description: 'the indicator' },
  period: int(
    'bars in the window (sma, ema, bollinger, volatility; default 20) or the Wilder smoothing period (rsi; default 14); 1 to 1000 (volatility: 2 to 1000)',
  ),
  fast: int('macd: the fast EMA period (default 12)'),
  slow: int('macd: the slow EMA period (default 26), more than fast'),
  signal: int('macd: the signal EMA period (default 9)'),
  k: {
    type: 'number',
    description: 'bollinger: band width in standard deviations (default 2), over 0 and at most 10',
  },
} as const

const APPLIES: Record<string, readonly IndicatorName[]> = {
  period: ['sma', 'ema', 'rsi', 'bollinger', 'volatility'],
  fast: ['macd'],
  slow: ['macd'],
  signal: ['macd'],
  k: ['bollinger'],
}

function periodOf(param: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback
  if (!Number.isSafeInteger(v) || v < min || v > MAX_PERIOD)
    throw new BadRequestError(param, `${param} must be a whole number from ${min} to ${MAX_PERIOD}`)
  return v
}

/** The indicator a request asks for; a parameter the indicator has no use for is refused by name. */
export function parseIndicator(q: IndicatorParams): IndicatorSpec {
  if (!(INDICATOR_NAMES as readonly string[]).includes(q.name))
    throw new BadRequestError('name', `name must be one of ${INDICATOR_NAMES.join(', ')}`)
  const name = q.name as IndicatorName
  for (const [param, names] of Object.entries(APPLIES))
    if (q[param as keyof IndicatorParams] !== undefined && !names.includes(name))
      throw new BadRequestError(param, `${param} does not apply to ${name}`)
  const spec: IndicatorSpec = {
    name,
    period: periodOf('period', q.period, DEFAULT_PERIOD[name], name === 'volatility' ? 2 : 1),
    fast: periodOf('fast', q.fast, 12),
    slow: periodOf('slow', q.slow, 26),
    signal: periodOf('signal', q.signal, 9),
    k: q.k ?? 2,
  }
  if (spec.fast >= spec.slow) throw new BadRequestError('slow', 'slow must be more than fast')
  if (!(spec.k > 0 && spec.k <= 10)) throw new BadRequestError('k', 'k must be over 0 and at most 10')
  return spec
}

/** The bars an indicator reads, with the lookback before `lo` it needs, up to `hi` (inclusive). */
const INPUT_SQL = (start: string) => `
  with tz as (select value as tz from settings where key = 'bars_timezone'),
       s as (select ${start} as start)
  select to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
         to_char(bucket at time zone (select tz from tz), 'YYYY-MM-DD') as session,
         high::text as high, low::text as low, close::text as close, volume::text as volume,
         case when origin = 'trades' then pv::text end as pv
  from bars
  where symbol = $1 and interval = $2 and bucket >= coalesce((select start from s), '-infinity')
    and bucket >= $5::timestamptz and bucket <= $4::timestamptz and $3::timestamptz is not null
  order by bars.bucket`

const STARTS = {
  // the `bars`-th bar before lo
  bars: `(select bucket from bars where symbol = $1 and interval = $2 and bucket < $3::timestamptz
          order by bucket desc offset $6::int - 1 limit 1)`,
  session: `(date_trunc('day', $3::timestamptz at time zone (select tz from tz)) at time zone (select tz from tz))`,
  series: `'-infinity'::timestamptz`,
}

/**
 * An indicator read forward over the stored bars. Reading pages in ascending order continues the
 * same indicator state (each page reads only the bars after the last one it pushed); any other
 * page starts again with its lookback.
 */
export class IndicatorReader {
  readonly #db: Db
  readonly #symbol: string
  readonly #interval: string
  readonly #spec: IndicatorSpec
  #state: { indicator: Indicator; through: string } | undefined
  constructor(db: Db, symbol: string, interval: string, spec: IndicatorSpec) {
    this.#db = db
    this.#symbol = symbol
    this.#interval = interval
    this.#spec = spec
  }

  /** The values of every bar with bucket in [lo, hi], by bucket. */
  async values(lo: string, hi: string): Promise<Map<string, (string | null)[]>> {
    const continues = this.#state !== undefined && this.#state.through < lo
    let values: unknown[]
    let sql: string
    if (continues) {
      sql = INPUT_SQL(STARTS.series)
      values = [this.#symbol, this.#interval, lo, hi, bumped(this.#state!.through)]
    } else {
      const back = lookback(this.#spec)
      this.#state = { indicator: createIndicator(this.#spec), through: '' }
      if (typeof back === 'object' && back.bars === 0) {
        sql = INPUT_SQL('$3::timestamptz')
        values = [this.#symbol, this.#interval, lo, hi, '-infinity']
      } else if (typeof back === 'object') {
        sql = INPUT_SQL(STARTS.bars)
        values = [this.#symbol, this.#interval, lo, hi, '-infinity', back.bars]
      } else {
        sql = INPUT_SQL(STARTS[back])
        values = [this.#symbol, this.#interval, lo, hi, '-infinity']
      }
    }
    const bars = await this.#db.query<IndicatorBar>(sql, values)
    const out = new Map<string, (string | null)[]>()
    const state = this.#state!
    for (const bar of bars) {
      out.set(bar.bucket, state.indicator.push(bar))
      state.through = bar.bucket
    }
    return out
  }
}

/** The next second after a bucket: buckets are whole seconds, so `>= bumped(b)` is `> b`. */
function bumped(bucket: string): string {
  return new Date(Date.parse(bucket) + 1000).toISOString().replace('.000Z', 'Z')
}

export type IndicatorRow = { symbol: string; interval: string; bucket: string } & Record<
  string,
  string | null
>

/** The rows of the bars page read in `order`, each with the indicator's values at that bar. */
export async function indicatorRows(
  reader: IndicatorReader,
  buckets: string[],
  meta: { symbol: string; interval: string; columns: readonly string[] },
): Promise<IndicatorRow[]> {
  if (buckets.length === 0) return []
  const sorted = buckets.toSorted()
  const values = await reader.values(sorted[0]!, sorted.at(-1)!)
  return buckets.map((bucket) => {
    const row: IndicatorRow = { symbol: meta.symbol, interval: meta.interval, bucket }
    const v = values.get(bucket)
    meta.columns.forEach((c, i) => (row[c] = v?.[i] ?? null))
    return row
  })
}

const nullableText = { type: ['string', 'null'] }
const indicatorRow = {
  type: 'object',
  additionalProperties: true,
  properties: {
    symbol: { type: 'string' },
    interval: { type: 'string' },
    bucket: { type: 'string', description: 'bucket start of the bar, ISO-8601 UTC' },
    ...Object.fromEntries(
      [...new Set(Object.values(OUTPUTS).flat())].map((c) => [
        c,
        { ...nullableText, description: 'decimal text; null while the indicator warms up' },
      ]),
    ),
  },
}

type Query = ListQuery & IndicatorParams & { symbol: string; interval: string }

export function registerIndicators(app: FastifyInstance, db: Db): void {
  app.get<{ Querystring: Query }>(
    '/api/v1/indicators',
    {
      schema: {
        description:
          'An indicator over the bars of one symbol and interval, one row per bar (paged like /api/v1/bars): sma, ema, rsi (Wilder), bollinger (middle, upper, lower), macd (macd, signal, histogram), volatility (sample standard deviation of log returns), vwap (session VWAP); see docs/analytics.md',
        querystring: listQuery(
          { symbol: symbolParam, interval: { type: 'string', enum: [...INTERVALS] }, ...indicatorParams },
          ['symbol', 'interval', 'name'],
        ),
        response: { 200: page('indicator values', indicatorRow), ...errorResponses },
      },
    },
    async (req, reply) => {
      const symbol = parseSymbol('symbol', req.query.symbol)
      const interval = req.query.interval
      const spec = parseIndicator(req.query)
      const p = parseList(req.query, req.headers.accept, 1)
      const after = p.cursor ? cursorTime(p.cursor.parts[0]!) : undefined
      const range = await barRange(db, symbol, p, after)
      const reader = new IndicatorReader(db, symbol, interval, spec)
      const meta = { symbol, interval, columns: OUTPUTS[spec.name] }
      const read = async (limit: number, last?: string) => {
        if (!range) return []
        const bars = await queryBars(db, { symbol, interval, ...range, order: p.scan, limit, after: last })
        return indicatorRows(
          reader,
          bars.map((b) => b.bucket),
          meta,
        )
      }
      if (p.csv)
        return sendCsv<IndicatorRow>(
          reply,
          `${spec.name}-${symbol}-${interval}`,
          ['symbol', 'interval', 'bucket', ...meta.columns],
          (last, size) => read(size, last?.bucket ?? after),
          { limit: p.limit ?? ALL },
        )
      const rows = await read(p.limit! + 1, after)
      return pageOf(rows, p.limit!, p.cursor?.dir, (r) => [r.bucket])
    },
  )
}
