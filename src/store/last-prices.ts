// The last stored price of each symbol (latest event time, then latest arrival): where a restarted
// simulator picks its market up, so a second run continues the first instead of jumping.
import type { Queryable } from './db.ts'

export async function lastStoredPrices(db: Queryable, symbols: string[]): Promise<Record<string, string>> {
  // One index probe per symbol on ticks (symbol, ts) instead of a scan of the whole table.
  const rows = await db.query<{ symbol: string; price: string }>(
    `select s.symbol, t.price::text as price
       from unnest($1::text[]) as s(symbol)
       cross join lateral (
         select price from ticks where ticks.symbol = s.symbol order by ts desc, ingest_seq desc limit 1
       ) as t`,
    [symbols],
  )
  return Object.fromEntries(rows.map((r) => [r.symbol, r.price]))
}
