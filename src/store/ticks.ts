// Writes one processed batch to PostgreSQL in one transaction: the valid ticks (COPY), the dead
// letters, and the consumed offsets. Messages at offsets the table already holds for the group are
// skipped inside the same transaction, so a batch re-delivered after a crash or a rebalance is
// never stored twice: at-least-once delivery from the bus becomes exactly-once effect here.
import type { Db, Queryable } from './db.ts'
import { duplicateOf, type DeadLetter, type Tick } from '../processor/validate.ts'
import { INTERVALS, upsertBars, type Bar } from './bars.ts'
import { aggregate } from '../processor/aggregate.ts'

export interface BatchItem {
  topic: string
  partition: number
  offset: bigint
  tick?: Tick
  dead?: DeadLetter
}

export interface BatchResult {
  stored: Tick[]
  deadLettered: DeadLetter[]
  /** Messages skipped because their offsets were already stored. */
  skipped: number
  /** The bars this batch created or changed, as stored after the batch. */
  bars: Bar[]
}

const COPY_TICKS =
  'copy ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts) from stdin'

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyField(v: string | null): string {
  if (v === null) return '\\N'
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : v
}

export function ticksToCopyText(ticks: Tick[]): string {
  let out = ''
  for (const t of ticks) {
    out += `${t.symbol}\t${t.ts}\t${t.price}\t${t.size}\t${copyField(t.source)}\t${copyField(t.tradeId)}\t${t.offset}\t${t.partition}\t${copyField(t.recvTs)}\n`
  }
  return out
}

export class TickStore {
  readonly db: Db
  readonly #days = new Set<string>()
  #timezone: string | undefined

  constructor(db: Db) {
    this.db = db
  }

  /** The time zone daily bars are aligned to (settings.bars_timezone), read once. */
  async timezone(): Promise<string> {
    if (this.#timezone === undefined) {
      const [row] = await this.db.query<{ value: string }>(
        "select value from settings where key = 'bars_timezone'",
      )
      this.#timezone = row?.value ?? 'UTC'
    }
    return this.#timezone
  }

  /** Creates the day partitions the ticks need (cached; a no-op for days already seen). */
  async ensurePartitions(ticks: Tick[]): Promise<void> {
    const days = new Set<string>()
    for (const t of ticks) {
      const day = t.ts.slice(0, 10)
      if (!this.#days.has(day)) days.add(day)
    }
    for (const day of days) {
      await this.db.query('select tickflow_ensure_day_partition($1::date)', [day])
      this.#days.add(day)
    }
  }

  /** Creates partitions for today and the next `ahead` days (UTC). */
  async createAhead(ahead = 3, now = Date.now()): Promise<void> {
    for (let i = -1; i <= ahead; i++) {
      const day = new Date(now + i * 86_400_000).toISOString().slice(0, 10)
      await this.db.query('select tickflow_ensure_day_partition($1::date)', [day])
      this.#days.add(day)
    }
  }

  /**
   * Stores a batch exactly once. `beforeCommit` runs inside the transaction with every dead letter
   * of the batch (invalid and duplicate): the processor publishes them to the DLQ topic there, so a
   * batch is never committed without its dead letters having been published.
   */
  async writeBatch(
    groupId: string,
    items: BatchItem[],
    beforeCommit?: (dead: DeadLetter[]) => Promise<void>,
  ): Promise<BatchResult> {
    await this.ensurePartitions(items.flatMap((i) => (i.tick ? [i.tick] : [])))
    const timezone = await this.timezone()
    return this.db.transaction(async (tx) => {
      const fresh = await filterStored(tx, groupId, items)
      const candidates: Tick[] = []
      const dead: DeadLetter[] = []
      for (const i of fresh.items) {
        if (i.tick) candidates.push(i.tick)
        else if (i.dead) dead.push(i.dead)
      }
      // PostgreSQL checks the trade ids while the rows and bars of the common case (no duplicate)
      // are built here; they are built again only if a duplicate was found.
      const checking = dropDuplicateIds(tx, candidates)
      checking.catch(() => {}) // awaited below; a failure must not surface as unhandled first
      let copyText = ticksToCopyText(candidates)
      let partial = aggregate(candidates, INTERVALS, timezone)
      const { unique, duplicates } = await checking
      if (unique.length !== candidates.length) {
        copyText = ticksToCopyText(unique)
        partial = aggregate(unique, INTERVALS, timezone)
      }
      dead.push(...duplicates)
      if (unique.length > 0) await tx.copyIn(COPY_TICKS, copyText)
      const bars = await upsertBars(tx, partial)
      if (dead.length > 0) await insertDeadLetters(tx, dead)
      await saveOffsets(tx, groupId, fresh.next)
      if (beforeCommit && dead.length > 0) await beforeCommit(dead)
      return { stored: unique, deadLettered: dead, skipped: items.length - fresh.items.length, bars }
    })
  }
}

/**
 * A trade id already stored for its source, or repeated earlier in the batch, makes the trade a
 * duplicate: it becomes a dead letter (reason duplicate_trade_id) with its original message.
 */
async function dropDuplicateIds(
  tx: Queryable,
  ticks: Tick[],
): Promise<{ unique: Tick[]; duplicates: DeadLetter[] }> {
  // The first tick of each (source, trade id) in the batch; later ones are duplicates already.
  const firstSeen = new Map<string, number>()
  const repeated = new Set<number>()
  const sources: string[] = []
  const ids: string[] = []
  const index: number[] = []
  for (let i = 0; i < ticks.length; i++) {
    const t = ticks[i]!
    if (t.tradeId === null) continue
    const k = `${t.source}\0${t.tradeId}`
    if (firstSeen.has(k)) {
      repeated.add(i)
      continue
    }
    firstSeen.set(k, i)
    sources.push(t.source)
    ids.push(t.tradeId)
    index.push(i)
  }
  if (ids.length === 0) return { unique: ticks, duplicates: [] }
  // Only the ids that were already stored come back (by position), usually none: the insert
  // itself is the check, and no row per stored trade travels back to the processor.
  const stored = await tx.query<{ ord: string }>(
    `with k as (select * from unnest($1::text[], $2::text[]) with ordinality as u(source, trade_id, ord)),
     ins as (insert into trade_ids (source, trade_id) select source, trade_id from k
             on conflict do nothing returning source, trade_id)
     select k.ord::text from k left join ins using (source, trade_id) where ins.source is null`,
    [sources, ids],
  )
  for (const r of stored) repeated.add(index[Number(r.ord) - 1]!)
  if (repeated.size === 0) return { unique: ticks, duplicates: [] }
  const unique: Tick[] = []
  const duplicates: DeadLetter[] = []
  for (let i = 0; i < ticks.length; i++) {
    if (repeated.has(i)) duplicates.push(duplicateOf(ticks[i]!))
    else unique.push(ticks[i]!)
  }
  return { unique, duplicates }
}

interface PartitionNext {
  topic: string
  partition: number
  next: bigint
}

/** Locks the group's offset rows for the batch's partitions and drops items already stored. */
async function filterStored(
  tx: Queryable,
  groupId: string,
  items: BatchItem[],
): Promise<{ items: BatchItem[]; next: PartitionNext[] }> {
  const keys = new Map<string, PartitionNext>()
  for (const i of items) {
    const k = `${i.topic}\0${i.partition}`
    const cur = keys.get(k)
    if (!cur) keys.set(k, { topic: i.topic, partition: i.partition, next: i.offset + 1n })
    else if (i.offset + 1n > cur.next) cur.next = i.offset + 1n
  }
  const topics = [...keys.values()].map((k) => k.topic)
  const partitions = [...keys.values()].map((k) => k.partition)
  await tx.query(
    `insert into consumer_offsets (group_id, topic, partition, next_offset)
     select $1, t, p, 0 from unnest($2::text[], $3::int[]) as u(t, p)
     on conflict do nothing`,
    [groupId, topics, partitions],
  )
  const rows = await tx.query<{ topic: string; partition: number; next_offset: string }>(
    `select topic, partition, next_offset from consumer_offsets
     where group_id = $1 and (topic, partition) in (select * from unnest($2::text[], $3::int[]))
     order by topic, partition
     for update`,
    [groupId, topics, partitions],
  )
  const stored = new Map(rows.map((r) => [`${r.topic}\0${r.partition}`, BigInt(r.next_offset)]))
  const fresh = items.filter((i) => i.offset >= (stored.get(`${i.topic}\0${i.partition}`) ?? 0n))
  const next = [...keys.values()].map((k) => {
    const prev = stored.get(`${k.topic}\0${k.partition}`) ?? 0n
    return { ...k, next: k.next > prev ? k.next : prev }
  })
  return { items: fresh, next }
}

async function saveOffsets(tx: Queryable, groupId: string, next: PartitionNext[]): Promise<void> {
  await tx.query(
    `update consumer_offsets o set next_offset = u.n, updated_at = now()
     from unnest($2::text[], $3::int[], $4::bigint[]) as u(t, p, n)
     where o.group_id = $1 and o.topic = u.t and o.partition = u.p`,
    [groupId, next.map((n) => n.topic), next.map((n) => n.partition), next.map((n) => n.next.toString())],
  )
}

async function insertDeadLetters(tx: Queryable, dead: DeadLetter[]): Promise<void> {
  await tx.query(
    `insert into dead_letters (reason, detail, topic, partition, "offset", key, payload)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::bytea[])
     on conflict (topic, partition, "offset") do nothing`,
    [
      dead.map((d) => d.reason),
      dead.map((d) => d.detail),
      dead.map((d) => d.topic),
      dead.map((d) => d.partition),
      dead.map((d) => d.offset.toString()),
      dead.map((d) => d.key),
      dead.map((d) => d.payload),
    ],
  )
}

/** The offsets stored for a group: partition → next offset. */
export async function storedOffsets(db: Db, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const rows = await db.query<{ partition: number; next_offset: string }>(
    'select partition, next_offset from consumer_offsets where group_id = $1 and topic = $2',
    [groupId, topic],
  )
  return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]))
}
