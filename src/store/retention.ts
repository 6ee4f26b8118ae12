// Retention: removes ticks, their trade ids, bars, dead letters and alert firings older than a
// cutoff. Whole partitions of ticks are dropped (no row-by-row delete, no table bloat); only the
// partition that straddles the cutoff loses rows one by one. Bars, dead letters and firings are
// deleted in chunks so no transaction holds locks or WAL for millions of rows.
import type { Db, Queryable } from './db.ts'
import { INTERVALS, type Interval } from './bars.ts'
import { bumpPartitionsEpoch, listPartitions } from './partitions.ts'

export interface Cutoffs {
  /** Ticks with ts before this go (and their trade ids). */
  ticks?: Date
  /**
   * Trade ids of ticks with ts before this go, so a trade re-sent after that is stored again: the
   * dedupe window. Ids never outlive their ticks: with `ticks` later, `ticks` wins.
   */
  tradeIds?: Date
  bars?: Partial<Record<Interval, Date>>
  /** Dead letters received before this go. */
  deadLetters?: Date
  /**
   * Alert firings of trades before this go (by the trade's event time, like ticks), with their
   * delivered webhook rows; a firing whose webhook is not yet delivered stays until it is.
   */
  alertFirings?: Date
}

export interface PurgeReport {
  partitionsDropped: string[]
  ticks: number
  tradeIds: number
  bars: Partial<Record<Interval, number>>
  deadLetters: number
  alertFirings: number
  /** Firings older than the cut kept because their webhook is not yet delivered. */
  alertFiringsKept: number
}

/** The same cutoff for everything: `tickflow purge --before TIME`. */
export function cutoffsBefore(before: Date): Cutoffs {
  return {
    ticks: before,
    tradeIds: before,
    bars: Object.fromEntries(INTERVALS.map((i) => [i, before])),
    deadLetters: before,
    alertFirings: before,
  }
}

export interface RetentionSettings {
  retainTicks?: number
  retainTradeIds?: number
  retainDeadLetters?: number
  retainBars1s?: number
  retainBars1m?: number
  retainBars5m?: number
  retainBars1h?: number
  retainBars1d?: number
}

/** Cutoffs from the retention settings (milliseconds to keep; unset = keep for ever). */
export function cutoffsFromSettings(s: RetentionSettings, now = Date.now()): Cutoffs {
  const ago = (ms: number | undefined): Date | undefined =>
    ms === undefined ? undefined : new Date(now - ms)
  return {
    ticks: ago(s.retainTicks),
    tradeIds: ago(s.retainTradeIds),
    deadLetters: ago(s.retainDeadLetters),
    // firings are kept as long as the trades that fired them
    alertFirings: ago(s.retainTicks),
    bars: {
      '1s': ago(s.retainBars1s),
      '1m': ago(s.retainBars1m),
      '5m': ago(s.retainBars5m),
      '1h': ago(s.retainBars1h),
      '1d': ago(s.retainBars1d),
    },
  }
}

/**
 * Applies the retention settings now and every `everyMs` (nothing when none is set); returns the
 * stop function (it waits for a round under way). Failures are reported and retried at the next round.
 */
export function startRetention(
  db: Db,
  settings: RetentionSettings,
  onDone: (report: PurgeReport | Error) => void,
  everyMs = 3_600_000,
): () => Promise<void> {
  const keys = [
    'retainTicks',
    'retainTradeIds',
    'retainDeadLetters',
    'retainBars1s',
    'retainBars1m',
    'retainBars5m',
    'retainBars1h',
    'retainBars1d',
  ] as const
  if (!keys.some((k) => settings[k] !== undefined)) return () => Promise.resolve()
  let running: Promise<void> | undefined
  const round = (): void => {
    running ??= purge(db, cutoffsFromSettings(settings))
      .then(onDone, (err: unknown) => onDone(err instanceof Error ? err : new Error(String(err))))
      .finally(() => (running = undefined))
  }
  round()
  const timer = setInterval(round, everyMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}

async function count(tx: Queryable, sql: string, params: unknown[]): Promise<number> {
  const [r] = await tx.query<{ n: string }>(sql, params)
  return Number(r?.n ?? 0)
}

/** Deletes the trade ids of the ticks in [from, to) (ticks still present). */
function deleteTradeIds(tx: Queryable, from: Date | null, to: Date): Promise<number> {
  return count(
    tx,
    `with d as (delete from trade_ids t using ticks k
                where k.ts < $2 and ($1::timestamptz is null or k.ts >= $1) and k.trade_id is not null
                  and t.source = k.source and t.trade_id = k.trade_id returning 1)
     select count(*)::text as n from d`,
    [from?.toISOString() ?? null, to.toISOString()],
  )
}

async function purgeTicks(db: Db, before: Date, idsBefore: Date, report: PurgeReport): Promise<void> {
  const cut = before.getTime()
  for (const p of await listPartitions(db)) {
    if (p.lo >= cut) break
    const dropped = report.partitionsDropped.length
    await db.transaction(async (tx) => {
      // Writers wait (reads go on) so no trade lands in the partition between the two steps;
      // ticks before its partitions, like the partition functions, so no deadlock.
      await tx.query('lock table ticks in share mode')
      // Another purge may have dropped it meanwhile.
      const [exists] = await tx.query<{ ok: boolean }>('select to_regclass($1) is not null as ok', [p.name])
      if (!exists?.ok) return
      const to = new Date(Math.min(p.hi, cut))
      report.tradeIds += await deleteTradeIds(tx, new Date(p.lo), to)
      if (p.hi <= cut) {
        report.ticks += await count(tx, `select count(*)::text as n from "${p.name}"`, [])
        await tx.exec(`drop table "${p.name}"`)
        report.partitionsDropped.push(p.name)
      } else {
        report.ticks += await count(
          tx,
          'with d as (delete from ticks where ts < $1 returning 1) select count(*)::text as n from d',
          [before.toISOString()],
        )
      }
    })
    // After the commit: a processor that saw the partition exist makes it again if it needs it.
    if (report.partitionsDropped.length > dropped) await bumpPartitionsEpoch(db)
  }
  if (idsBefore > before) report.tradeIds += await deleteTradeIds(db, before, idsBefore)
}

/** Deletes matching rows 10,000 at a time; returns how many. */
async function deleteInChunks(db: Db, table: string, where: string, params: unknown[]): Promise<number> {
  let total = 0
  for (;;) {
    const n = await count(
      db,
      `with d as (delete from ${table} where ctid in (select ctid from ${table} where ${where} limit 10000) returning 1)
       select count(*)::text as n from d`,
      params,
    )
    total += n
    if (n < 10_000) return total
  }
}

const UNDELIVERED = `exists (select 1 from alert_deliveries d
  where d.firing_id = alert_firings.id and d.delivered_at is null)`

/**
 * Deletes the firings before the cut whose webhook is delivered or who have none: an undelivered
 * one is never dropped unseen (the outbox gauges and alert show it until it is delivered).
 */
async function purgeFirings(db: Db, before: Date, report: PurgeReport): Promise<void> {
  const cut = [before.toISOString()]
  report.alertFirings = await deleteInChunks(db, 'alert_firings', `ts < $1 and not ${UNDELIVERED}`, cut)
  report.alertFiringsKept = await count(
    db,
    `select count(*)::text as n from alert_firings where ts < $1 and ${UNDELIVERED}`,
    cut,
  )
}

const FIXED_MS: Record<Exclude<Interval, '1d'>, number> = {
  '1s': 1000,
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
}

/**
 * The start of the bucket that holds `at` (daily buckets at midnight in the bars' time zone). The
 * bars before it lie wholly before `at`; the one holding it also sums the trades after `at`, which
 * are kept, so it is kept whole.
 */
async function bucketHolding(db: Db, interval: Interval, at: Date): Promise<string> {
  if (interval !== '1d')
    return new Date(Math.floor(at.getTime() / FIXED_MS[interval]) * FIXED_MS[interval]).toISOString()
  const [row] = await db.query<{ start: string }>(
    `select to_char((date_trunc('day', $1::timestamptz at time zone s.value) at time zone s.value) at time zone 'UTC',
       'YYYY-MM-DD"T"HH24:MI:SS"Z"') as start
     from settings s where s.key = 'bars_timezone'`,
    [at.toISOString()],
  )
  return row?.start ?? new Date(Math.floor(at.getTime() / 86_400_000) * 86_400_000).toISOString()
}

export async function purge(db: Db, cutoffs: Cutoffs): Promise<PurgeReport> {
  const report: PurgeReport = {
    partitionsDropped: [],
    ticks: 0,
    tradeIds: 0,
    bars: {},
    deadLetters: 0,
    alertFirings: 0,
    alertFiringsKept: 0,
  }
  const ids = cutoffs.tradeIds
  const ticks = cutoffs.ticks
  if (ticks) await purgeTicks(db, ticks, ids && ids > ticks ? ids : ticks, report)
  else if (ids) report.tradeIds += await deleteTradeIds(db, null, ids)
  for (const interval of INTERVALS) {
    const before = cutoffs.bars?.[interval]
    if (!before) continue
    report.bars[interval] = await deleteInChunks(db, 'bars', 'interval = $1 and bucket < $2', [
      interval,
      await bucketHolding(db, interval, before),
    ])
  }
  if (cutoffs.deadLetters)
    report.deadLetters = await deleteInChunks(db, 'dead_letters', 'received_at < $1', [
      cutoffs.deadLetters.toISOString(),
    ])
  if (cutoffs.alertFirings) await purgeFirings(db, cutoffs.alertFirings, report)
  return report
}
