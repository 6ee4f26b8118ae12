// The bar checker: for every (symbol, interval, bucket), the stored bar must equal the SQL
// GROUP BY over ticks — open/close by (ts, ingest_seq), high/low, exact volume, vwap, count.
import type { Queryable } from '../../src/store/db.ts'

const AGGREGATE = `
  select symbol, iv as interval, tickflow_bucket(iv, ts, (select value from settings where key = 'bars_timezone')) as bucket,
         (array_agg(price order by ts, ingest_seq))[1] as open, max(price) as high, min(price) as low,
         (array_agg(price order by ts desc, ingest_seq desc))[1] as close,
         sum(size) as volume, sum(price * size) / nullif(sum(size), 0) as vwap, count(*) as trades
  from ticks cross join unnest(array['1s', '1m', '5m', '1h', '1d']) as iv
  group by 1, 2, 3`
const STORED = `select symbol, interval, bucket, open, high, low, close, volume, vwap, trades from bars where origin = 'trades'`

export interface BarCheck {
  bars: number
  /** Aggregates with no equal stored bar. */
  missing: number
  /** Stored bars with no equal aggregate. */
  extra: number
}

export async function checkBars(db: Queryable): Promise<BarCheck> {
  const [row] = await db.query<{ bars: string; missing: string; extra: string }>(`
    select (select count(*) from bars where origin = 'trades')::text as bars,
           (select count(*) from (${AGGREGATE} except ${STORED}) m)::text as missing,
           (select count(*) from (${STORED} except ${AGGREGATE}) e)::text as extra`)
  return { bars: Number(row!.bars), missing: Number(row!.missing), extra: Number(row!.extra) }
}
