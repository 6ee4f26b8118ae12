// The partition layout of ticks (src/store/migrations/003_partition_tiers.sql, docs/storage.md):
// which partition holds a timestamp, creating it when missing, and merging the day partitions of
// stores made before the layout existed.
import { prepared, type Db } from './db.ts'

export interface Partition {
  name: string
  /** epoch ms, inclusive */
  lo: number
  /** epoch ms, exclusive */
  hi: number
}

/** Read before every batch. */
const EPOCH = prepared("select last_value::text || ':' || is_called::text as e from ticks_partitions_epoch")

/**
 * Partition ranges this process has seen exist, valid for one epoch of ticks_partitions_epoch: a
 * purge that drops partitions bumps it, and the ranges seen before are forgotten. (A merge needs
 * no bump: the merged partition covers every range it replaced.)
 */
export class PartitionRanges {
  #ranges: { lo: number; hi: number }[] = []
  #epoch = ''

  /** Forgets every range when the epoch changed since the last call. */
  async check(db: Db): Promise<void> {
    const [row] = await db.query<{ e: string }>(EPOCH)
    const epoch = row?.e ?? ''
    if (epoch !== this.#epoch) this.#ranges = []
    this.#epoch = epoch
  }

  /** True when `ms` (event time) falls in a known range; the +1 ms margin covers sub-ms rounding. */
  covers(ms: number): boolean {
    for (const r of this.#ranges) if (r.lo <= ms && ms + 1 < r.hi) return true
    return false
  }

  add(lo: number, hi: number): void {
    this.#ranges.push({ lo, hi })
  }
}

/** Tells every process's PartitionRanges that partitions were dropped. */
export async function bumpPartitionsEpoch(db: Db): Promise<void> {
  await db.query("select nextval('ticks_partitions_epoch')")
}

/** Makes sure a partition holds `ts` (ISO-8601) and returns its bounds. */
export async function ensurePartition(db: Db, ts: string): Promise<{ lo: number; hi: number }> {
  const [row] = await db.query<{ lo: number; hi: number }>(
    `select (extract(epoch from lo) * 1000)::float8 as lo, (extract(epoch from hi) * 1000)::float8 as hi
     from tickflow_ensure_partition($1::timestamptz)`,
    [ts],
  )
  if (!row) throw new Error(`no partition of ticks could be made for ${ts}`)
  return row
}

/** The partitions of ticks by start. */
export async function listPartitions(db: Db): Promise<Partition[]> {
  return db.query<Partition>(
    `select name, (extract(epoch from lo) * 1000)::float8 as lo, (extract(epoch from hi) * 1000)::float8 as hi
     from tickflow_ticks_partitions() order by lo`,
  )
}

/**
 * Merges the day partitions of a store made before migration 003 into month and year partitions,
 * one month or year per transaction so no transaction locks thousands of tables, and widens a day
 * partition alone in its month or year to the whole of it. Returns the number of partitions
 * replaced; a no-op when there are none (or before migration 003).
 */
export async function mergeDayPartitions(db: Db): Promise<number> {
  // 003 added the merge, 012 the widening of a lone day partition.
  const [fns] = await db.query<{ merge: boolean; widen: boolean }>(
    `select to_regproc('tickflow_ticks_merge_candidates') is not null as merge,
            to_regproc('tickflow_ticks_widen_candidates') is not null as widen`,
  )
  if (!fns?.merge) return 0
  const run = async (fn: string, g: { lo: string; hi: string }): Promise<number> => {
    const [r] = await db.transaction((tx) =>
      tx.query<{ n: number }>(`select ${fn}($1::timestamptz, $2::timestamptz) as n`, [g.lo, g.hi]),
    )
    return r?.n ?? 0
  }
  let merged = 0
  for (const g of await db.query<{ lo: string; hi: string }>(
    'select lo::text, hi::text from tickflow_ticks_merge_candidates()',
  ))
    merged += await run('tickflow_merge_ticks_partitions', g)
  if (fns.widen)
    for (const g of await db.query<{ lo: string; hi: string }>(
      'select lo::text, hi::text from tickflow_ticks_widen_candidates()',
    ))
      merged += await run('tickflow_widen_ticks_partition', g)
  return merged
}
