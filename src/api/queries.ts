// The API's SQL. Every value from a request reaches PostgreSQL as a bound parameter, never as text
// in the statement. Pagination is by keyset cursor (the last row's sort key), so pages are stable
// while trades keep arriving.
import type { Queryable } from '../store/db.ts'

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

export interface BarRow {
  symbol: string
  interval: string
  bucket: string
  open: string
  high: string
  low: string
  close: string
  volume: string
  vwap: string | null
  trades: string
}

const TS = `to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

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

export async function queryTrades(
  db: Queryable,
  q: {
    symbol: string
    from?: string
    to?: string
    limit: number
    after?: { ts: string; partition: number; seq: string }
  },
): Promise<TradeRow[]> {
  return db.query<TradeRow>(
    `select symbol, ${TS} as ts, price::text, size::text, source, trade_id as "tradeId", kafka_partition as partition, ingest_seq::text as seq
     from ticks
     where symbol = $1
       and ($2::timestamptz is null or ts >= $2) and ($3::timestamptz is null or ts < $3)
       and ($4::timestamptz is null or (ts, kafka_partition, ingest_seq) > ($4, $5::int, $6::bigint))
     order by ts, kafka_partition, ingest_seq
     limit $7`,
    [
      q.symbol,
      q.from ?? null,
      q.to ?? null,
      q.after?.ts ?? null,
      q.after?.partition ?? null,
      q.after?.seq ?? null,
      q.limit,
    ],
  )
}

export async function queryBars(
  db: Queryable,
  q: { symbol: string; interval: string; from?: string; to?: string; limit: number; after?: string },
): Promise<BarRow[]> {
  return db.query<BarRow>(
    `select symbol, interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
            open::text, high::text, low::text, close::text, volume::text, vwap::text, trades::text
     from bars
     where symbol = $1 and interval = $2
       and ($3::timestamptz is null or bucket >= $3) and ($4::timestamptz is null or bucket < $4)
       and ($5::timestamptz is null or bucket > $5)
     order by bucket
     limit $6`,
    [q.symbol, q.interval, q.from ?? null, q.to ?? null, q.after ?? null, q.limit],
  )
}

export async function latestQuotes(
  db: Queryable,
  symbols: string[],
): Promise<{ symbol: string; price: string; size: string; ts: string; prevClose: string | null }[]> {
  return db.query(
    `select s.symbol, t.price::text as price, t.size::text as size, t.ts as ts, p.close::text as "prevClose"
     from unnest($1::text[]) as s(symbol)
     join lateral (select price, size, ${TS} as ts, ts as raw_ts from ticks where ticks.symbol = s.symbol order by ts desc, ingest_seq desc limit 1) t on true
     left join lateral (select close from bars where bars.symbol = s.symbol and interval = '1d' and bucket < tickflow_bucket('1d', t.raw_ts, (select value from settings where key = 'bars_timezone')) order by bucket desc limit 1) p on true`,
    [symbols],
  )
}
