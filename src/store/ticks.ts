// Persists the processor's write plans and answers what it asks while building one. A batch is one
// transaction: the group's offset rows of the batch's partitions are locked first, so the plan is
// built against the offsets already stored (a batch re-delivered after a crash or a rebalance is
// skipped: at-least-once delivery from the bus becomes exactly-once effect here), then the plan's
// ticks (COPY), bars, dead letters and offsets are written together.
import { createHash } from 'node:crypto'
import { prepared, type Db, type Queryable } from './db.ts'
import { readBars, upsertBars } from './bars.ts'
import type {
  Bar,
  DeadLetter,
  OffsetGap,
  PartialBar,
  PartitionOffset,
  Tick,
  WritePlan,
} from '../domain/types.ts'
import type { AlertHistory, AlertRule, HistoryNeed } from '../domain/alerts.ts'
import { insertFirings, listRules, readHistory, type StoredAlertFiring } from './alerts.ts'
import { PartitionRanges, ensurePartition } from './partitions.ts'
import { CopyText } from './copy-text.ts'

/** What a committed batch did, for metrics and the live tail. */
export interface BatchResult {
  stored: Tick[]
  deadLettered: DeadLetter[]
  /** Messages skipped because their offsets were already stored. */
  skipped: number
  /** The bars this batch created or changed, as stored after the batch. */
  bars: Bar[]
  /** The alert firings this batch stored (each once, ever). */
  firings?: StoredAlertFiring[]
  /** Whether a plan prepared before the transaction was stored as made, or was built again. */
  prepared?: 'held' | 'lost'
  /** Offsets the batch passed over (WritePlan.gaps); absent = none. */
  gaps?: OffsetGap[]
}

/** What the store tells the plan builder, inside the batch's transaction. */
export interface PlanContext {
  /** Next offset already stored per `${topic}\0${partition}` of the batch (locked until commit). */
  stored: Map<string, bigint>
  /**
   * Records the trade ids (sources[i], tradeIds[i]) as seen and returns the positions of those that were
   * already stored before: those trades are duplicates.
   */
  claimTradeIds(sources: string[], tradeIds: string[]): Promise<Set<number>>
  /** The alert rules in force for this batch. */
  alertRules(): Promise<AlertRule[]>
  /** The stored trades and bars the rules need to evaluate the batch (before its own rows). */
  alertHistory(needs: HistoryNeed[]): Promise<AlertHistory>
}

/**
 * A batch's write plan made before its transaction, on the bet that holds nearly always: none of
 * its offsets and none of its trade ids are stored yet, and no alert rule is in force. The store
 * sends all of it at once behind a savepoint and checks the bet with what the transaction answers;
 * when the bet lost, that work is rolled back and the plan is built the usual way.
 */
export interface PreparedWrite {
  plan: WritePlan
  /** The smallest offset of the batch per `${topic}\0${partition}`: each must not be stored yet. */
  firstOffsets: Map<string, bigint>
  /** The trade ids to claim (source, trade id), each once. */
  claim: { sources: string[]; tradeIds: string[] }
  /** The same as COPY_TRADE_IDS rows (made when first read, unless made ahead). */
  readonly claimRows: Buffer
  /** The plan's ticks as COPY_TICKS rows (made when first read, unless made ahead). */
  readonly tickRows: Buffer
}

/**
 * The largest payload the dead_letters table keeps per message (64 KiB, docs/errors.md): a longer
 * one is cut there, its size and SHA-256 noted in the detail; the DLQ topic gets what it can hold.
 */
export const DEAD_LETTER_PAYLOAD_CAP = 64 * 1024

export const offsetKey = (topic: string, partition: number): string => `${topic}\0${partition}`

/**
 * The partitions whose first new offset lies past what the group had stored. A partition the
 * group never stored has no gap: where a new group starts is the topic's business.
 */
export function offsetGaps(first: Map<string, bigint>, stored: Map<string, bigint>): OffsetGap[] {
  const gaps: OffsetGap[] = []
  for (const [key, to] of first) {
    const from = stored.get(key)
    if (from === undefined || to <= from) continue
    const cut = key.lastIndexOf('\0')
    gaps.push({ topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), from, to })
  }
  return gaps
}

export const COPY_TICKS =
  'copy ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts, conditions) from stdin'

/** A text[] literal: every element quoted, so commas, braces and spaces inside stay data. */
function arrayLiteral(items: string[] | null | undefined): string | null {
  if (!items || items.length === 0) return null
  return `{${items.map((c) => `"${c.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`
}

/** The ticks as COPY_TICKS rows. */
export function ticksToCopy(ticks: Tick[]): Buffer {
  const out = new CopyText(ticks.length * 160)
  for (const t of ticks) {
    out
      .field(t.symbol)
      .field(t.ts)
      .field(t.price)
      .field(t.size)
      .field(t.source)
      .field(t.tradeId)
      .field(t.offset.toString())
      .field(String(t.partition))
      .field(t.recvTs)
      .field(arrayLiteral(t.conditions), true)
  }
  return out.bytes()
}

export class TickStore {
  readonly db: Db
  readonly #partitions = new PartitionRanges()
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

  /**
   * Creates the partitions the ticks need (one query when every range was seen before). `ts` is
   * written from the same parsed instant that is stored, so a row always has its partition.
   */
  async ensurePartitions(ticks: Tick[]): Promise<void> {
    await this.#partitions.check(this.db)
    for (const t of ticks) {
      if (this.#partitions.covers(t.tsMs)) continue
      const { lo, hi } = await ensurePartition(this.db, t.ts)
      this.#partitions.add(lo, hi)
    }
  }

  /** Creates the partitions for yesterday to `ahead` days from now (UTC). */
  async createAhead(ahead = 3, now = Date.now()): Promise<void> {
    await this.#partitions.check(this.db)
    for (let i = -1; i <= ahead; i++) {
      const day = new Date(now + i * 86_400_000).toISOString().slice(0, 10)
      const { lo, hi } = await ensurePartition(this.db, `${day}T00:00:00Z`)
      this.#partitions.add(lo, hi)
    }
  }

  /**
   * One batch in one transaction: locks the group's offsets of `partitions`, lets `build` make the
   * plan against them, and persists it. `beforeCommit` runs inside the transaction with the plan's
   * dead letters: the processor publishes them to the DLQ topic there, so a batch is never
   * committed without its dead letters having been published. `barsAsStored` says whether the
   * result needs the batch's bars as stored (the live tail's subscribers): asked before the writes
   * (the upsert then answers with them) and again after the commit (a subscriber that came in
   * between gets them read).
   */
  async commit(
    groupId: string,
    partitions: { topic: string; partition: number }[],
    build: (ctx: PlanContext) => Promise<WritePlan>,
    beforeCommit?: (dead: DeadLetter[]) => Promise<void>,
    prepared?: PreparedWrite,
    barsAsStored: () => boolean = () => true,
  ): Promise<BatchResult> {
    const asStored = barsAsStored()
    const { result, bars } = await this.#commit(groupId, partitions, build, beforeCommit, prepared, asStored)
    // The batch is committed whatever this read does: a failed one leaves the live tail without
    // these bar updates rather than failing (and retrying) a stored batch.
    if (!asStored && barsAsStored()) result.bars = await readBars(this.db, bars).catch(() => [])
    return result
  }

  /** commit(), also returning the plan's partial bars. */
  async #commit(
    groupId: string,
    partitions: { topic: string; partition: number }[],
    build: (ctx: PlanContext) => Promise<WritePlan>,
    beforeCommit: ((dead: DeadLetter[]) => Promise<void>) | undefined,
    prepared: PreparedWrite | undefined,
    asStored: boolean,
  ): Promise<{ result: BatchResult; bars: PartialBar[] }> {
    const db = this.db
    if (
      prepared &&
      db.pipelined &&
      prepared.plan.ticks.length <= PIPELINED_MAX_TICKS &&
      !(beforeCommit && prepared.plan.deadLetters.length > 0)
    ) {
      // A small batch: its round trips cost more than its rows. Sent in one go without COPY; when
      // the bet lost, nothing of it stays and the batch takes the usual path.
      const held = await db.pipelined(async (tx) => {
        const outcome = await writePrepared(tx, groupId, partitions, prepared, asStored, true)
        return { commit: outcome.result !== undefined, value: outcome.result }
      })
      if (held) return { result: held, bars: prepared.plan.bars }
      const again = await this.#commit(groupId, partitions, build, beforeCommit, undefined, asStored)
      return { ...again, result: { ...again.result, prepared: 'lost' } }
    }
    return db.transaction(async (tx) => {
      let stored: Map<string, bigint>
      if (prepared) {
        const outcome = await writePrepared(tx, groupId, partitions, prepared, asStored)
        if (outcome.result) {
          if (beforeCommit && prepared.plan.deadLetters.length > 0)
            await beforeCommit(prepared.plan.deadLetters)
          return { result: outcome.result, bars: prepared.plan.bars }
        }
        stored = outcome.stored
      } else stored = await lockOffsets(tx, groupId, partitions)
      const plan = await build({
        stored,
        claimTradeIds: (sources, tradeIds) => claimTradeIds(tx, sources, tradeIds),
        alertRules: () => listRules(tx),
        alertHistory: (needs) => readHistory(tx, needs),
      })
      // Handed over together: the connection runs them in order, and the first failure fails the
      // rest (with COPY among them, each waits for the answer to the one before).
      const [, bars, firings] = await Promise.all([
        plan.ticks.length > 0 ? tx.copyIn(COPY_TICKS, ticksToCopy(plan.ticks)) : undefined,
        upsertBars(tx, plan.bars, asStored),
        insertFirings(tx, plan.firings ?? []),
        plan.deadLetters.length > 0 ? insertDeadLetters(tx, plan.deadLetters) : undefined,
        saveOffsets(tx, groupId, plan.offsets),
      ])
      if (beforeCommit && plan.deadLetters.length > 0) await beforeCommit(plan.deadLetters)
      const result: BatchResult = {
        stored: plan.ticks,
        deadLettered: plan.deadLetters,
        skipped: plan.skipped,
        bars,
        firings,
        ...(prepared ? { prepared: 'lost' as const } : {}),
        ...(plan.gaps ? { gaps: plan.gaps } : {}),
      }
      return { result, bars: plan.bars }
    })
  }

  /** The offsets stored for a group: partition → next offset. */
  storedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    return storedOffsets(this.db, groupId, topic)
  }
}

/**
 * Batches of up to this many ticks are written in a pipelined transaction where the database has
 * them (PostgreSQL): inserts from arrays instead of COPY, every statement sent at once. A batch of
 * 300 took about 11 round trips of which the rows were the smaller part (docs/benchmarks.md).
 */
export const PIPELINED_MAX_TICKS = 1000

/**
 * Sends a prepared plan in one go: the offset lock, a savepoint, the alert rules, the trade-id
 * claim and every write. The result when the bet held (every offset fresh, no id stored before,
 * no rule in force); otherwise the work after the savepoint is undone and the locked offsets are
 * returned for the usual path. Any failure after the lock also takes the usual path, which meets
 * it again on its own step. `pipelined`: the transaction is pipelined (no COPY, no savepoint: a
 * lost bet rolls back the whole transaction, and a failed lock is a lost bet too).
 */
async function writePrepared(
  tx: Queryable,
  groupId: string,
  partitions: { topic: string; partition: number }[],
  p: PreparedWrite,
  asStored: boolean,
  pipelined = false,
): Promise<{ result?: BatchResult; stored: Map<string, bigint> }> {
  const { plan } = p
  const [lock, savepoint, rules, claim, ticks, bars, dead, offsets] = await Promise.allSettled([
    lockOffsets(tx, groupId, partitions),
    pipelined ? undefined : tx.exec('savepoint prepared_batch'),
    listRules(tx),
    p.claim.sources.length === 0
      ? undefined
      : pipelined
        ? tx.query(INSERT_TRADE_IDS, [p.claim.sources, p.claim.tradeIds])
        : tx.copyIn(COPY_TRADE_IDS, p.claimRows),
    plan.ticks.length === 0
      ? undefined
      : pipelined
        ? tx.query(INSERT_TICKS, tickColumns(plan.ticks))
        : tx.copyIn(COPY_TICKS, p.tickRows),
    upsertBars(tx, plan.bars, asStored),
    plan.deadLetters.length > 0 ? insertDeadLetters(tx, plan.deadLetters) : undefined,
    saveOffsets(tx, groupId, plan.offsets),
  ])
  if (lock.status === 'rejected') {
    if (pipelined) return { stored: new Map() }
    throw lock.reason
  }
  if (savepoint.status === 'rejected') throw savepoint.reason
  const stored = lock.value
  const held =
    rules.status === 'fulfilled' &&
    rules.value.length === 0 &&
    bars.status === 'fulfilled' &&
    [claim, ticks, dead, offsets].every((s) => s.status === 'fulfilled') &&
    [...p.firstOffsets].every(([key, first]) => first >= (stored.get(key) ?? 0n))
  if (held) {
    const gaps = offsetGaps(p.firstOffsets, stored)
    return {
      stored,
      result: {
        stored: plan.ticks,
        deadLettered: plan.deadLetters,
        skipped: plan.skipped,
        bars: bars.value,
        firings: [],
        prepared: 'held',
        ...(gaps.length > 0 ? { gaps } : {}),
      },
    }
  }
  if (!pipelined) await tx.exec('rollback to savepoint prepared_batch')
  return { stored }
}

const COPY_TRADE_IDS = 'copy trade_ids (source, trade_id) from stdin'

/** COPY_TRADE_IDS as an insert from arrays; a stored id fails it on the primary key, as the COPY. */
const INSERT_TRADE_IDS = prepared(
  'insert into trade_ids (source, trade_id) select * from unnest($1::text[], $2::text[])',
)

/** COPY_TICKS as an insert from arrays (tickColumns): each value goes through the same input function. */
export const INSERT_TICKS =
  prepared(`insert into ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts, conditions)
select symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts, conditions::text[]
from unnest($1::text[], $2::timestamptz[], $3::numeric[], $4::numeric[], $5::text[], $6::text[], $7::bigint[],
            $8::int[], $9::timestamptz[], $10::text[])
     as u(symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition, recv_ts, conditions)`)

/** The ticks as the ten arrays of INSERT_TICKS, in COPY_TICKS's column order. */
export function tickColumns(ticks: Tick[]): unknown[][] {
  const n = ticks.length
  const cols: unknown[][] = Array.from({ length: 10 }, () => new Array<unknown>(n))
  for (let i = 0; i < n; i++) {
    const t = ticks[i]!
    cols[0]![i] = t.symbol
    cols[1]![i] = t.ts
    cols[2]![i] = t.price
    cols[3]![i] = t.size
    cols[4]![i] = t.source
    cols[5]![i] = t.tradeId
    cols[6]![i] = t.offset.toString()
    cols[7]![i] = t.partition
    cols[8]![i] = t.recvTs
    cols[9]![i] = arrayLiteral(t.conditions)
  }
  return cols
}

/** The trade ids to claim as COPY_TRADE_IDS rows: source and id per line. */
export function claimCopy(sources: string[], tradeIds: string[]): Buffer {
  const out = new CopyText(sources.length * 48)
  for (let i = 0; i < sources.length; i++) out.field(sources[i]!).field(tradeIds[i]!, true)
  return out.bytes()
}

async function claimTradeIds(tx: Queryable, sources: string[], tradeIds: string[]): Promise<Set<number>> {
  if (sources.length === 0) return new Set()
  // Usually no id was stored before, and COPY adds them at about twice the speed of the insert
  // below. One stored id fails the COPY on the primary key; then it is undone and the insert tells
  // which ones were.
  try {
    await Promise.all([
      tx.exec('savepoint claim_trade_ids'),
      tx.copyIn(COPY_TRADE_IDS, claimCopy(sources, tradeIds)),
    ])
    return new Set()
  } catch (err) {
    if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err
    await tx.exec('rollback to savepoint claim_trade_ids')
  }
  // Only the ids that were already stored come back (by position): the insert itself is the
  // check, and no row per stored trade travels back to the processor.
  const rows = await tx.query<{ ord: string }>(
    `with k as (select * from unnest($1::text[], $2::text[]) with ordinality as u(source, trade_id, ord)),
     ins as (insert into trade_ids (source, trade_id) select source, trade_id from k
             on conflict do nothing returning source, trade_id)
     select k.ord::text from k left join ins using (source, trade_id) where ins.source is null`,
    [sources, tradeIds],
  )
  return new Set(rows.map((r) => Number(r.ord) - 1))
}

const UNIQUE_VIOLATION = '23505'

const ADD_OFFSETS = prepared(`insert into consumer_offsets (group_id, topic, partition, next_offset)
select $1, t, p, 0 from unnest($2::text[], $3::int[]) as u(t, p)
on conflict do nothing`)

const LOCK_OFFSETS = prepared(`select topic, partition, next_offset from consumer_offsets
where group_id = $1 and (topic, partition) in (select * from unnest($2::text[], $3::int[]))
order by topic, partition
for update`)

const SAVE_OFFSETS =
  prepared(`update consumer_offsets o set next_offset = greatest(o.next_offset, u.n), updated_at = now()
from unnest($2::text[], $3::int[], $4::bigint[]) as u(t, p, n)
where o.group_id = $1 and o.topic = u.t and o.partition = u.p`)

/** Locks the group's offset rows of the partitions (created at 0 if new) and returns them. */
async function lockOffsets(
  tx: Queryable,
  groupId: string,
  keys: { topic: string; partition: number }[],
): Promise<Map<string, bigint>> {
  const topics = keys.map((k) => k.topic)
  const partitions = keys.map((k) => k.partition)
  // Both statements are handed over at once: a pipelined connection sends them together, an
  // ordinary one runs them in order, each after the other's answer.
  const [, rows] = await Promise.all([
    tx.query(ADD_OFFSETS, [groupId, topics, partitions]),
    tx.query<{ topic: string; partition: number; next_offset: string }>(LOCK_OFFSETS, [
      groupId,
      topics,
      partitions,
    ]),
  ])
  return new Map(rows.map((r) => [offsetKey(r.topic, r.partition), BigInt(r.next_offset)]))
}

async function saveOffsets(tx: Queryable, groupId: string, next: PartitionOffset[]): Promise<void> {
  await tx.query(SAVE_OFFSETS, [
    groupId,
    next.map((n) => n.topic),
    next.map((n) => n.partition),
    next.map((n) => n.next.toString()),
  ])
}

async function insertDeadLetters(tx: Queryable, dead: DeadLetter[]): Promise<void> {
  const capped = dead.map((d) => {
    if (d.payload.length <= DEAD_LETTER_PAYLOAD_CAP) return d
    const sha256 = createHash('sha256').update(d.payload).digest('hex')
    return {
      ...d,
      detail: `${d.detail} [payload cut to ${DEAD_LETTER_PAYLOAD_CAP} of ${d.payload.length} bytes; sha256 ${sha256}]`,
      payload: d.payload.subarray(0, DEAD_LETTER_PAYLOAD_CAP),
    }
  })
  await tx.query(
    `insert into dead_letters (reason, detail, topic, partition, "offset", key, payload)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::bytea[])
     on conflict (topic, partition, "offset") do nothing`,
    [
      capped.map((d) => d.reason),
      capped.map((d) => d.detail),
      capped.map((d) => d.topic),
      capped.map((d) => d.partition),
      capped.map((d) => d.offset.toString()),
      capped.map((d) => d.key),
      capped.map((d) => d.payload),
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
