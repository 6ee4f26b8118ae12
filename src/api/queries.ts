// The API's SQL. Every value from a request reaches PostgreSQL as a bound parameter, never as text
// in the statement (the statement text varies only between fixed fragments). Pagination is by keyset
// (the last row's sort key), so pages are stable while trades keep arriving. Every query on ticks
// carries a plain `ts >= $ and ts < $` range, so PostgreSQL plans with partition pruning: a request
// without from/to is bounded by the symbol's daily bars (see dataRange).
import type { Bar } from '../domain/types.ts'
import type { Queryable } from '../store/db.ts'
import { formatMicros, parseMicros } from './params.ts'

export interface TradeRow {
  symbol: string
  ts: string
  price: string
  size: string
  source: string
  tradeId: string | null
  partition: number
  seq: string
}

/** A bar as the API serves it: the stored bar (numerics as PostgreSQL prints them). */
export type BarRow = Bar

/** Who computed the bars: tickflow's processor (bars) or the Spark job (spark_bars, docs/spark.md). */
export type BarSource = 'tickflow' | 'spark'
export const BAR_SOURCES: readonly BarSource[] = ['tickflow', 'spark']
// The table name comes from this fixed map, never from the request.
const BAR_TABLE: Record<BarSource, string> = { tickflow: 'bars', spark: 'spark_bars' }

export type Order = 'asc' | 'desc'
export interface TradeKey {
  ts: string
  partition: number
  seq: string
}

const TS = `to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
// A daily bucket starts at midnight in the bars time zone; with DST a day lasts at most 25 hours.
const DAY_SPAN = 26n * 3600n * 1_000_000n

const plus = (iso: string, us: bigint): string => formatMicros(parseMicros('time', iso) + us)

export async function listSymbols(
  db: Queryable,
): Promise<{ symbol: string; lastPrice: string; lastTs: string; trades: string }[]> {
  return db.query(
    `select distinct on (symbol) symbol, close::text as "lastPrice",
            to_char(close_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "lastTs",
            trades::text as trades
     from bars where interval = '1d'
     order by symbol, bucket desc`,
  )
}

export interface StoreStats {
  symbols: number
  trades: string
  deadLetters: string
  /** The first and the last daily bucket of any symbol. */
  first: string | null
  last: string | null
}

/** Counts from the daily bars (one row per symbol and day), so the cost does not grow with ticks. */
export async function storeStats(db: Queryable): Promise<StoreStats> {
  const [row] = await db.query<StoreStats>(
    `select (select count(distinct symbol)::int from bars where interval = '1d') as symbols,
            (select coalesce(sum(trades), 0)::text from bars where interval = '1d' and origin = 'trades') as trades,
            (select count(*)::text from dead_letters) as "deadLetters",
            (select to_char(min(bucket) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') from bars where interval = '1d') as first,
            (select to_char(max(bucket) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') from bars where interval = '1d') as last`,
  )
  return row!
}

interface Day {
  bucket: string
  trades: number
}

/**
 * The [lo, hi) time range a request on one symbol reads: from/to as given, missing ends filled from
 * the symbol's daily bars (every trade lies within a daily bucket), and, when a limit is given,
 * narrowed to the days whose trade counts already hold `limit` rows in the requested order. Null
 * when the symbol has no data in the range.
 */
export async function dataRange(
  db: Queryable,
  q: { symbol: string; from?: string; to?: string; order?: Order; limit?: number; source?: BarSource },
): Promise<{ lo: string; hi: string } | null> {
  if (q.from !== undefined && q.to !== undefined && q.limit === undefined) return { lo: q.from, hi: q.to }
  const table = BAR_TABLE[q.source ?? 'tickflow']
  const origin = table === 'bars' ? "case when origin = 'trades' then trades else 0 end" : 'trades'
  const days = await db.query<Day>(
    `select to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as bucket,
            ${origin}::float8 as trades
     from ${table} b where symbol = $1 and interval = '1d' and bucket >= $2 and bucket < $3
     order by b.bucket`,
    [q.symbol, q.from === undefined ? '-infinity' : plus(q.from, -DAY_SPAN), q.to ?? 'infinity'],
  )
  if (days.length === 0) return q.from !== undefined && q.to !== undefined ? { lo: q.from, hi: q.to } : null
  let lo = q.from ?? days[0]!.bucket
  let hi = q.to ?? plus(days.at(-1)!.bucket, DAY_SPAN)
  if (q.limit === undefined) return { lo, hi }
  let count = 0
  if (q.order === 'desc') {
    for (const d of days.toReversed()) {
      if (plus(d.bucket, DAY_SPAN) > hi) continue
      count += d.trades
      if (count >= q.limit) {
        if (d.bucket > lo) lo = d.bucket
        break
      }
    }
  } else {
    for (const d of days) {
      if (d.bucket < lo) continue
      count += d.trades
      if (count >= q.limit) {
        const end = plus(d.bucket, DAY_SPAN)
        if (end < hi) hi = end
        break
      }
    }
  }
  return { lo, hi }
}

export interface Statement {
  text: string
  values: unknown[]
}

export interface TradeQuery {
  symbol: string
  lo: string
  hi: string
  order: Order
  limit: number
  after?: TradeKey
}

/** Trades of a symbol in [lo, hi) in (ts, partition, seq) order, after `after` in that order. */
export function tradesSql(q: TradeQuery): Statement {
  const desc = q.order === 'desc'
  const values: unknown[] = [q.symbol, q.lo, q.hi, q.limit]
  let keyset = ''
  if (q.after) {
    values.push(q.after.ts, q.after.partition, q.after.seq)
    // The plain bound on ts lets the (symbol, ts) index start at the cursor; the row comparison
    // then drops the rows of that same instant already returned.
    keyset = `and ts ${desc ? '<=' : '>='} $5::timestamptz
              and (ts, kafka_partition, ingest_seq) ${desc ? '<' : '>'} ($5::timestamptz, $6::int, $7::bigint)`
  }
  const dir = desc ? 'desc' : 'asc'
  return {
    text: `select symbol, ${TS} as ts, price::text as price, size::text as size, source, trade_id as "tradeId",
            kafka_partition as partition, ingest_seq::text as seq
     from ticks
     where symbol = $1 and ts >= $2::timestamptz and ts < $3::timestamptz ${keyset}
     order by ticks.ts ${dir}, kafka_partition ${dir}, ingest_seq ${dir}
     limit $4::bigint`,
    values,
  }
}

export async function queryTrades(db: Queryable, q: TradeQuery): Promise<TradeRow[]> {
  const { text, values } = tradesSql(q)
  return db.query<TradeRow>(text, values)
}

export interface BarQuery {
  symbol: string
  interval: string
  lo: string
  hi: string
  order: Order
  limit: number
  after?: string
  source?: BarSource
}

/** Bars of a symbol and interval with bucket in [lo, hi), after the `after` bucket in that order. */
export function barsSql(q: BarQuery): Statement {
  const desc = q.order === 'desc'
  const values: unknown[] = [q.symbol, q.interval, q.lo, q.hi, q.limit]
  let keyset = ''
  if (q.after !== undefined) {
    values.push(q.after)
    keyset = `and bucket ${desc ? '<' : '>'} $6::timestamptz`
  }
  return {
    text: `select symbol, interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
            open::text as open, high::text as high, low::text as low, close::text as close,
            volume::text as volume, vwap::text as vwap, trades::text as trades
     from ${BAR_TABLE[q.source ?? 'tickflow']} b
     where symbol = $1 and interval = $2 and bucket >= $3::timestamptz and bucket < $4::timestamptz ${keyset}
     order by b.bucket ${desc ? 'desc' : 'asc'}
     limit $5::bigint`,
    values,
  }
}

export async function queryBars(db: Queryable, q: BarQuery): Promise<BarRow[]> {
  const { text, values } = barsSql(q)
  return db.query<BarRow>(text, values)
}

export async function latestQuotes(
  db: Queryable,
  symbols: string[],
): Promise<{ symbol: string; price: string; size: string; ts: string; prevClose: string | null }[]> {
  // The latest trade lies in the symbol's latest daily bucket. The range over those buckets goes to
  // PostgreSQL as constants, so the plan touches only the partitions inside it.
  const days = await db.query<{ symbol: string; bucket: string }>(
    `select s.symbol, to_char(d.bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as bucket
     from unnest($1::text[]) as s(symbol)
     join lateral (select bucket from bars where bars.symbol = s.symbol and interval = '1d' and origin = 'trades'
                   order by bucket desc limit 1) d on true`,
    [symbols],
  )
  if (days.length === 0) return []
  const buckets = days.map((d) => d.bucket).sort()
  return db.query(
    `select s.symbol, t.price::text as price, t.size::text as size, t.ts as ts, p.close::text as "prevClose"
     from unnest($1::text[], $2::timestamptz[]) as s(symbol, day)
     join lateral (select price, size, ${TS} as ts from ticks
                   where ticks.symbol = s.symbol and ts >= $3::timestamptz and ts < $4::timestamptz
                     and ts >= s.day and ts < s.day + interval '26 hours'
                   order by ticks.ts desc, ingest_seq desc limit 1) t on true
     left join lateral (select close from bars where bars.symbol = s.symbol and interval = '1d' and bucket < s.day
                        order by bucket desc limit 1) p on true`,
    [days.map((d) => d.symbol), days.map((d) => d.bucket), buckets[0], plus(buckets.at(-1)!, DAY_SPAN)],
  )
}
