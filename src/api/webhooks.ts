// Webhook delivery of alert firings from the outbox (alert_deliveries, written with each firing in
// its batch's transaction). At least once: a delivery is leased (its next attempt pushed past the
// request's timeout) before it is posted and marked delivered only after a 2xx answer, so a process
// killed mid-request leaves it due again, and any process running a deliverer picks it up. Each POST
// carries `Idempotency-Key: <firing id>` (the same on every attempt) for the receiver to drop repeats.
// Failed attempts are retried with exponential backoff, capped.
import type { Db } from '../store/db.ts'
import type { Metrics, OutboxState } from '../metrics/registry.ts'
import { errorMessage } from '../errors.ts'
import { backoffDelay } from '../util/backoff.ts'
import { sleep } from '../util/timeout.ts'

export interface WebhookOptions {
  /** One request's time limit. */
  timeoutMs: number
  /** The longest wait between two attempts (the backoff doubles from `baseMs` up to it). */
  maxBackoffMs: number
  baseMs?: number
  /** How often the outbox is checked for due deliveries (default 250 ms). */
  pollMs?: number
  /**
   * This process alone writes the outbox (the embedded store, held by one process): between
   * wakes it sleeps until the next delivery falls due, read from the outbox, instead of polling.
   */
  soleWriter?: boolean
  /** Deliveries posted at once. */
  batch?: number
  onError?: (err: unknown) => void
  /** Counts the posts and their latency, and reads the outbox for its gauges when scraped. */
  metrics?: Metrics
}

interface Due {
  firing_id: string
  url: string
  attempts: number
  rule_id: string
  rule_name: string | null
  kind: string
  event: string
  symbol: string
  ts: string
  price: string
  value: string
  fired_at: string
}

/** The wait after the `attempts`-th failed attempt. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return backoffDelay(
    { initialMs: baseMs, maxMs, maxDoublings: 30, jitter: 'none' },
    Math.max(0, attempts - 1),
  )
}

const CLAIM = `
with due as (
  select firing_id from alert_deliveries
   where delivered_at is null and next_attempt_at <= now()
   order by next_attempt_at limit $1 for update skip locked)
update alert_deliveries d set attempts = d.attempts + 1,
       next_attempt_at = now() + $2 * interval '1 millisecond'
  from due where d.firing_id = due.firing_id
returning d.firing_id`

const DETAILS = `
select d.firing_id, d.url, d.attempts, f.rule_id::text as rule_id, r.name as rule_name, r.kind, f.event, f.symbol,
       to_char(f.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, f.price::text as price, f.value,
       to_char(f.fired_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as fired_at
  from alert_deliveries d join alert_firings f on f.id = d.firing_id join alert_rules r on r.id = f.rule_id
 where d.firing_id = any($1::text[])`

const OUTBOX = `
select count(*)::int as pending,
       coalesce(extract(epoch from now() - min(f.fired_at)), 0)::float8 as "oldestSeconds"
  from alert_deliveries d join alert_firings f on f.id = d.firing_id
 where d.delivered_at is null`

/** Milliseconds until the next undelivered row falls due (negative: due now); null when none. */
const NEXT_DUE = `
select (extract(epoch from min(next_attempt_at) - now()) * 1000)::float8 as ms
  from alert_deliveries where delivered_at is null`

/** The longest a sole writer's deliverer sleeps without being woken. */
const SOLE_WRITER_MAX_SLEEP_MS = 60_000

export interface WebhookDelivery {
  /** Stops delivering, waiting for the requests under way. */
  stop: () => Promise<void>
  /** Firings were stored: looks for due deliveries now rather than at the next poll. */
  wake: () => void
}

/** The undelivered rows of the outbox (every process's), for the gauges. */
export async function readOutbox(db: Db): Promise<OutboxState> {
  const [row] = await db.query<OutboxState>(OUTBOX)
  return { pending: row!.pending, oldestSeconds: row!.oldestSeconds }
}

/** Starts delivering. */
export function startWebhookDelivery(db: Db, o: WebhookOptions): WebhookDelivery {
  const base = Math.min(o.baseMs ?? 500, o.maxBackoffMs)
  const abort = new AbortController()
  const probe = (): Promise<OutboxState> => readOutbox(db)
  if (o.metrics) o.metrics.webhookOutbox.probe = probe
  let running: Promise<void> | undefined
  const round = async (): Promise<number> => {
    // leased for the request's timeout and a margin: a process that dies mid-request frees it then
    const claimed = await db.query<{ firing_id: string }>(CLAIM, [o.batch ?? 20, o.timeoutMs + 5000])
    if (claimed.length === 0) return 0
    const due = await db.query<Due>(DETAILS, [claimed.map((c) => c.firing_id)])
    const limits = {
      timeoutMs: o.timeoutMs,
      base,
      cap: o.maxBackoffMs,
      stop: abort.signal,
      metrics: o.metrics,
    }
    await Promise.all(due.map((d) => deliver(db, d, limits)))
    return due.length
  }
  /** Set by wake(): the sleep in progress ends, or the next one does not start. */
  let woken = new AbortController()
  const pause = async (): Promise<void> => {
    let ms = o.pollMs ?? 250
    if (o.soleWriter) {
      const [row] = await db.query<{ ms: number | null }>(NEXT_DUE)
      const due = row?.ms ?? null
      ms = due === null ? SOLE_WRITER_MAX_SLEEP_MS : Math.min(Math.max(due, ms), SOLE_WRITER_MAX_SLEEP_MS)
    }
    await sleep(ms, AbortSignal.any([abort.signal, woken.signal]))
  }
  const loop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      if (woken.signal.aborted) woken = new AbortController()
      try {
        if ((await round()) === 0) await pause()
      } catch (err) {
        o.onError?.(err)
        await sleep(o.pollMs ?? 250, abort.signal)
      }
    }
  }
  running = loop()
  return {
    wake: () => woken.abort(),
    stop: async () => {
      abort.abort()
      await running
      running = undefined
      if (o.metrics?.webhookOutbox.probe === probe) o.metrics.webhookOutbox.probe = undefined
    },
  }
}

interface Limits {
  timeoutMs: number
  base: number
  cap: number
  stop: AbortSignal
  metrics: Metrics | undefined
}

async function deliver(db: Db, d: Due, { timeoutMs, base, cap, stop, metrics }: Limits): Promise<void> {
  const body = JSON.stringify({
    id: d.firing_id,
    rule: { id: d.rule_id, name: d.rule_name, kind: d.kind },
    symbol: d.symbol,
    ts: d.ts,
    price: d.price,
    value: d.value,
    event: d.event,
    firedAt: d.fired_at,
  })
  let failure: string | undefined
  try {
    const res = await fetch(d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': d.firing_id,
        'user-agent': 'tickflow',
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
    })
    await res.arrayBuffer().catch(() => undefined)
    if (res.status < 200 || res.status > 299) failure = `HTTP ${res.status}`
  } catch (err) {
    failure = errorMessage(err)
  }
  if (stop.aborted && failure !== undefined) return // stopping: the lease runs out, another try follows
  if (d.attempts > 1) metrics?.webhookRetries.inc()
  metrics?.webhookDeliveries.inc({ result: failure === undefined ? 'success' : 'failure' })
  if (failure === undefined) {
    // firing stored → answered, both stamped by the database's clock
    const [row] = await db.query<{ seconds: number }>(
      `update alert_deliveries d set delivered_at = now(), last_error = null from alert_firings f
        where d.firing_id = $1 and f.id = d.firing_id
       returning extract(epoch from d.delivered_at - f.fired_at)::float8 as seconds`,
      [d.firing_id],
    )
    if (row) metrics?.webhookDeliverySeconds.observe(Math.max(0, row.seconds))
  } else
    await db.query(
      `update alert_deliveries set last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond'
        where firing_id = $1 and delivered_at is null`,
      [d.firing_id, failure.slice(0, 500), backoffMs(d.attempts, base, cap)],
    )
}
