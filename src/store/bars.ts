// Bars by event time, merged from a batch's stored ticks in the batch's own transaction: open/close
// are chosen by (ts, ingest_seq) (a late trade replaces them when it is earlier/later), high/low by
// greatest/least, and volume, pv = Σ price·size and trades are added, all as exact numerics. Which
// trades count in which field is decided by their sale conditions before (src/processor/aggregate.ts);
// a field no trade may update is null.
// vwap = pv / volume, the same expression a GROUP BY over ticks gives, so bars always equal the
// aggregate of their ticks (test/support/bars.ts checks it).
import { prepared, type Queryable } from './db.ts'
import type { Bar, PartialBar } from '../domain/types.ts'

export { INTERVALS, type Interval, type Bar } from '../domain/types.ts'

// A batch's open replaces the stored one when it is earlier, or when the bar had none (no trade
// that may update the last price yet); likewise the close. greatest/least skip nulls.
const EARLIER = `excluded.open_ts is not null and (o.open_ts is null or (excluded.open_ts, excluded.open_seq) < (o.open_ts, o.open_seq))`
const LATER = `excluded.close_ts is not null and (o.close_ts is null or (excluded.close_ts, excluded.close_seq) > (o.close_ts, o.close_seq))`

/** A bar row as the API and the live tail show it (Bar). */
const AS_STORED = `symbol, interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket,
  open::text, high::text, low::text, close::text, volume::text, vwap::text, trades::text`

// Partial bars of one batch (aggregated exactly in src/processor/aggregate.ts) merged into bars.
const UPSERT = `
insert into bars as o (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades,
                       open_ts, open_seq, close_ts, close_seq)
select symbol, iv, to_timestamp(bucket / 1000.0), open, high, low, close, volume, pv, pv / nullif(volume, 0), trades,
       open_ts, open_seq, close_ts, close_seq
from unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
            $8::numeric[], $9::numeric[], $10::bigint[], $11::timestamptz[], $12::bigint[], $13::timestamptz[], $14::bigint[])
     as u(symbol, iv, bucket, open, high, low, close, volume, pv, trades, open_ts, open_seq, close_ts, close_seq)
on conflict (symbol, interval, bucket) do update set
  open      = case when ${EARLIER} then excluded.open else o.open end,
  open_seq  = case when ${EARLIER} then excluded.open_seq else o.open_seq end,
  open_ts   = least(excluded.open_ts, o.open_ts),
  close     = case when ${LATER} then excluded.close else o.close end,
  close_seq = case when ${LATER} then excluded.close_seq else o.close_seq end,
  close_ts  = greatest(excluded.close_ts, o.close_ts),
  high      = greatest(excluded.high, o.high),
  low       = least(excluded.low, o.low),
  volume    = o.volume + excluded.volume,
  pv        = o.pv + excluded.pv,
  vwap      = (o.pv + excluded.pv) / nullif(o.volume + excluded.volume, 0),
  trades    = o.trades + excluded.trades,
  updated_at = now()
`

/** UPSERT, answering with the bars as stored after it. */
const UPSERT_BARS = prepared(`${UPSERT} returning ${AS_STORED}`)

/**
 * UPSERT answering nothing: sending 43,065 bars back as text took about half of a 654,140-trade
 * embedded replay's upserts (1.72 s against 0.93 without; docs/benchmarks.md).
 */
const UPSERT_BARS_QUIET = prepared(UPSERT)

const READ_BARS = prepared(`select ${AS_STORED} from bars
where (symbol, interval, bucket) in
      (select s, i, to_timestamp(b / 1000.0) from unnest($1::text[], $2::text[], $3::bigint[]) as u(s, i, b))`)

/**
 * Merges a batch's partial bars (src/processor/aggregate.ts) into bars; returns them as stored, or
 * nothing when `asStored` is false (no one reads them).
 */
export async function upsertBars(tx: Queryable, bars: PartialBar[], asStored = true): Promise<Bar[]> {
  if (bars.length === 0) return []
  const params = [
    bars.map((b) => b.symbol),
    bars.map((b) => b.interval),
    bars.map((b) => b.bucket),
    bars.map((b) => b.open),
    bars.map((b) => b.high),
    bars.map((b) => b.low),
    bars.map((b) => b.close),
    bars.map((b) => b.volume),
    bars.map((b) => b.pv),
    bars.map((b) => b.trades),
    bars.map((b) => b.openTs),
    bars.map((b) => b.openSeq?.toString() ?? null),
    bars.map((b) => b.closeTs),
    bars.map((b) => b.closeSeq?.toString() ?? null),
  ]
  if (asStored) return tx.query<Bar>(UPSERT_BARS, params)
  await tx.query(UPSERT_BARS_QUIET, params)
  return []
}

/** The bars of these partial bars' keys as stored now. */
export function readBars(db: Queryable, bars: PartialBar[]): Promise<Bar[]> {
  if (bars.length === 0) return Promise.resolve([])
  return db.query<Bar>(READ_BARS, [
    bars.map((b) => b.symbol),
    bars.map((b) => b.interval),
    bars.map((b) => b.bucket),
  ])
}
