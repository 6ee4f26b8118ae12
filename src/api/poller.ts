// The live tail for `tickflow serve`, which runs apart from the processors: polls for ticks and
// bars committed since the last poll and publishes them to the hub. Polls overlap by a margin
// (a transaction that started earlier can commit later) and a short memory drops repeats.
import type { Db } from '../store/db.ts'
import type { LiveAlert, LiveEvent, LiveHub } from './live.ts'
import type { Bar } from '../store/bars.ts'

/** Ticks stored since $1: a range scan of the ticks_stored_at index of each partition. */
export const TRADES_SINCE = `select symbol, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, price::text, size::text, source,
       kafka_partition || ':' || ingest_seq as k
  from ticks where stored_at >= $1 order by ts, kafka_partition, ingest_seq limit 5000`

/**
 * Bars changed since $1. Bars change only with the ticks they summarise, in the same transaction,
 * so they are looked up by primary key from the buckets of the ticks stored since then instead of
 * scanning every bar for updated_at.
 */
export const BARS_SINCE = `with t as (select distinct symbol, ts from ticks where stored_at >= $1),
  k as (select distinct t.symbol, iv.interval,
               tickflow_bucket(iv.interval, t.ts, (select value from settings where key = 'bars_timezone')) as bucket
        from t cross join unnest(array['1s', '1m', '5m', '1h', '1d']) as iv(interval))
select b.symbol, b.interval, to_char(b.bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, b.open::text, b.high::text,
       b.low::text, b.close::text, b.volume::text, b.vwap::text, b.trades::text, b.symbol || b.interval || b.bucket || ':' || b.trades as k
  from k join bars b on b.symbol = k.symbol and b.interval = k.interval and b.bucket = k.bucket
 where b.origin = 'trades' order by b.bucket limit 5000`

/** Alert firings stored since $1 (each stored once, in the transaction of its batch). */
export const FIRINGS_SINCE = `select id, rule_id::text as "ruleId", symbol,
       to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, price::text as price, value
  from alert_firings where fired_at >= $1 order by fired_at, id limit 5000`

export function startPoller(
  db: Db,
  hub: LiveHub,
  intervalMs = 500,
  onError: (err: unknown) => void = () => {},
): () => void {
  let since = new Date(Date.now() - 2000).toISOString()
  const seen = new Map<string, number>()
  let running = false
  const tick = async (): Promise<void> => {
    if (running) return
    // Nobody listens: nothing to send, and the first client must not be sent everything stored
    // since the server started (it reads that from the REST API), only what comes after it.
    if (hub.size === 0) {
      since = new Date().toISOString()
      return
    }
    running = true
    try {
      const from = new Date(Date.parse(since) - 2000).toISOString()
      const [now] = await db.query<{ now: string }>(
        'select to_char(now() at time zone \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') as now',
      )
      const trades = await db.query<{
        symbol: string
        ts: string
        price: string
        size: string
        source: string
        k: string
      }>(TRADES_SINCE, [from])
      const bars = await db.query<Bar & { k: string }>(BARS_SINCE, [from])
      const firings = await db.query<LiveAlert>(FIRINGS_SINCE, [from])
      const events: LiveEvent[] = []
      const stamp = Date.now()
      for (const { k, ...t } of trades) {
        if (seen.has(`t${k}`)) continue
        seen.set(`t${k}`, stamp)
        events.push({ type: 'trade', data: t })
      }
      for (const { k, ...b } of bars) {
        if (seen.has(`b${k}`)) continue
        seen.set(`b${k}`, stamp)
        events.push({ type: 'bar', data: { ...b, final: false } })
      }
      for (const f of firings) {
        if (seen.has(`a${f.id}`)) continue
        seen.set(`a${f.id}`, stamp)
        events.push({ type: 'alert', data: f })
      }
      for (const [k, at] of seen) if (stamp - at > 10_000) seen.delete(k)
      since = now!.now
      hub.publish(events)
    } catch (err) {
      onError(err)
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void tick(), intervalMs)
  return () => clearInterval(timer)
}
