// The live tail for `tickflow serve`, which runs apart from the processors: polls for ticks and
// bars committed since the last poll and publishes them to the hub. Polls overlap by a margin
// (a transaction that started earlier can commit later) and a short memory drops repeats.
import type { Db } from '../store/db.ts'
import type { LiveEvent, LiveHub } from './live.ts'
import type { Bar } from '../store/bars.ts'

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
    if (running || hub.size === 0) return
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
      }>(
        `select symbol, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, price::text, size::text, source,
                kafka_partition || ':' || ingest_seq as k
         from ticks where stored_at >= $1 order by ts, kafka_partition, ingest_seq limit 5000`,
        [from],
      )
      const bars = await db.query<Bar & { k: string }>(
        `select symbol, interval, to_char(bucket at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, open::text, high::text, low::text,
                close::text, volume::text, vwap::text, trades::text, symbol || interval || bucket || ':' || trades as k
         from bars where updated_at >= $1 and origin = 'trades' order by bucket limit 5000`,
        [from],
      )
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
