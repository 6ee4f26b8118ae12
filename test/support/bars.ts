// The bar checker: for every (symbol, interval, bucket), the stored bar must equal the SQL
// GROUP BY over ticks — open/close by (ts, ingest_seq), high/low, exact volume, vwap, count — each
// field over the trades the sale-condition rules let update it. The rules come into the SQL as a
// VALUES table generated from the processor's own rule table (src/domain/conditions.ts), so both
// sides read the same matrices; the aggregation itself is written again here, in SQL.
import type { Queryable } from '../../src/store/db.ts'
import { CRYPTO_SOURCES, US_EQUITY_RULES } from '../../src/domain/conditions.ts'

const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`

/** The rule table as SQL rows: (code, last, high_low, volume). */
export const RULES_SQL = `values ${[...US_EQUITY_RULES]
  .map(([code, r]) => `(${quote(code)}, ${r.last}, ${r.highLow}, ${r.volume})`)
  .join(', ')}`

// A trade may update a field unless it is a US-equity trade with a condition whose rule says no.
const may = (field: 'last' | 'high_low' | 'volume'): string =>
  `(t.source in (${CRYPTO_SOURCES.map(quote).join(', ')}) or not exists (
     select 1 from unnest(t.conditions) c join rules r on r.code = c where not r.${field}))`

const AGGREGATE = `
  select symbol, iv as interval, tickflow_bucket(iv, ts, (select value from settings where key = 'bars_timezone')) as bucket,
         (array_agg(price order by ts, ingest_seq) filter (where u_last))[1] as open,
         max(price) filter (where u_hl) as high, min(price) filter (where u_hl) as low,
         (array_agg(price order by ts desc, ingest_seq desc) filter (where u_last))[1] as close,
         coalesce(sum(size) filter (where u_vol), 0) as volume,
         sum(price * size) filter (where u_vol) / nullif(sum(size) filter (where u_vol), 0) as vwap,
         count(*) as trades
  from (select t.*, ${may('last')} as u_last, ${may('high_low')} as u_hl, ${may('volume')} as u_vol
        from ticks t) t
       cross join unnest(array['1s', '1m', '5m', '1h', '1d']) as iv
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
    with rules(code, last, high_low, volume) as (${RULES_SQL})
    select (select count(*) from bars where origin = 'trades')::text as bars,
           (select count(*) from (${AGGREGATE} except ${STORED}) m)::text as missing,
           (select count(*) from (${STORED} except ${AGGREGATE}) e)::text as extra`)
  return { bars: Number(row!.bars), missing: Number(row!.missing), extra: Number(row!.extra) }
}
