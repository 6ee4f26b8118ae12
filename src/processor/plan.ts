// A batch becomes a write plan: the ticks to store, their bar deltas, the dead letters and the next
// offsets. Pure except for the two questions only the store can answer inside the batch's
// transaction (which offsets and which trade ids it already holds), asked through PlanContext.
import type { BatchItem, DeadLetter, PartitionOffset, Tick, WritePlan } from '../domain/types.ts'
import { INTERVALS } from '../domain/types.ts'
import type { AlertFiring, AlertHistory, AlertRule } from '../domain/alerts.ts'
import type { BatchResult, PlanContext, PreparedWrite, TickStore } from '../store/ticks.ts'
import { PIPELINED_MAX_TICKS, claimCopy, offsetGaps, offsetKey, ticksToCopy } from '../store/ticks.ts'
import { aggregate } from './aggregate.ts'
import { duplicateOf } from './validate.ts'
import { evaluateAlerts, historyNeeds } from './alerts.ts'
import { AlertCache } from './alert-cache.ts'

/** The partitions of a batch, each once: the store locks their offsets before the plan is built. */
export function partitionsOf(items: BatchItem[]): { topic: string; partition: number }[] {
  const seen = new Map<string, { topic: string; partition: number }>()
  let last: BatchItem | undefined
  for (const i of items) {
    // A batch holds runs of one partition: a key is built once per run.
    if (last?.partition === i.partition && last.topic === i.topic) continue
    last = i
    const k = offsetKey(i.topic, i.partition)
    if (!seen.has(k)) seen.set(k, { topic: i.topic, partition: i.partition })
  }
  return [...seen.values()]
}

/**
 * Each (topic, partition, offset) once, first occurrence kept. A consumer can be handed a message
 * twice in one batch (re-fetched after a rebalance); it must be one trade, not a trade and its own
 * duplicate.
 */
export function uniqueOffsets(items: BatchItem[]): BatchItem[] {
  if (risingPerPartition(items)) return items
  // Offsets per partition; the partition seen last is found without building its key, as a batch
  // holds runs of one partition.
  const seen = new Map<string, Set<bigint>>()
  let lastTopic = ''
  let lastPartition = -1
  let offsets: Set<bigint> | undefined
  const out: BatchItem[] = []
  for (const i of items) {
    if (offsets === undefined || i.partition !== lastPartition || i.topic !== lastTopic) {
      const k = offsetKey(i.topic, i.partition)
      offsets = seen.get(k)
      if (!offsets) seen.set(k, (offsets = new Set()))
      lastTopic = i.topic
      lastPartition = i.partition
    }
    if (offsets.has(i.offset)) continue
    offsets.add(i.offset)
    out.push(i)
  }
  return out.length === items.length ? items : out
}

/**
 * Whether every partition's offsets rise through the batch, as a consumer hands them out: then none
 * repeats, which is found without a set of every offset (bigints hashed for each trade took 0.45 s
 * of a 654,140-trade embedded replay's main thread, docs/benchmarks.md).
 */
function risingPerPartition(items: BatchItem[]): boolean {
  const highest = new Map<string, bigint>()
  let topic = ''
  let partition = -1
  let key = ''
  let high: bigint | undefined
  for (const i of items) {
    if (i.partition !== partition || i.topic !== topic) {
      if (high !== undefined) highest.set(key, high)
      topic = i.topic
      partition = i.partition
      key = offsetKey(topic, partition)
      high = highest.get(key)
    }
    if (high !== undefined && i.offset <= high) return false
    high = i.offset
  }
  return true
}

/**
 * Stores classified items exactly once: the day partitions they need, then their plan in one
 * transaction. `beforeCommit` gets the plan's dead letters inside that transaction;
 * `barsAsStored` says whether the result needs the bars as stored (TickStore.commit).
 */
export async function writeBatch(
  store: TickStore,
  groupId: string,
  items: BatchItem[],
  beforeCommit?: (dead: DeadLetter[]) => Promise<void>,
  prepared?: PreparedWrite,
  barsAsStored?: () => boolean,
): Promise<BatchResult> {
  const ticks: Tick[] = []
  for (const i of items) if (i.tick) ticks.push(i.tick)
  await store.ensurePartitions(ticks)
  const timezone = await store.timezone()
  const cache = alertCache(store, groupId)
  return store.commit(
    groupId,
    partitionsOf(items),
    (ctx) => buildPlan(items, ctx, timezone, cache),
    beforeCommit,
    prepared,
    barsAsStored,
  )
}

/**
 * The plan of a batch made before its transaction, betting that none of its offsets and trade ids
 * are stored and no alert rule is in force (the store checks, and builds the plan the usual way
 * when the bet lost). Undefined when the batch itself repeats a trade id: that plan needs the
 * store's answers anyway.
 */
export function prepareWrite(items: BatchItem[], timezone: string): PreparedWrite | undefined {
  const unique = uniqueOffsets(items)
  const ticks: Tick[] = []
  const deadLetters: DeadLetter[] = []
  for (const i of unique) {
    if (i.tick) ticks.push(i.tick)
    else if (i.dead) deadLetters.push(i.dead)
  }
  const claim = idsToClaim(ticks)
  if (claim.repeated.size > 0) return undefined
  const plan: WritePlan = {
    ticks,
    bars: aggregate(ticks, INTERVALS, timezone),
    firings: [],
    deadLetters,
    offsets: nextOffsets(unique, { stored: new Map() }),
    skipped: items.length - unique.length,
  }
  // COPY rows are made here, ahead of the transaction, only for a batch too large to go pipelined;
  // a smaller one on PostgreSQL never needs them, and elsewhere makes them when first asked.
  let rows: { claim: Buffer; ticks: Buffer } | undefined
  const copyRows = (): { claim: Buffer; ticks: Buffer } =>
    (rows ??= { claim: claimCopy(claim.sources, claim.tradeIds), ticks: ticksToCopy(ticks) })
  if (ticks.length > PIPELINED_MAX_TICKS) copyRows()
  return {
    plan,
    firstOffsets: firstOffsets(unique),
    claim: { sources: claim.sources, tradeIds: claim.tradeIds },
    get claimRows() {
      return copyRows().claim
    },
    get tickRows() {
      return copyRows().ticks
    },
  }
}

/** One alert cache per store and consumer group: what the rules read, kept between batches. */
const caches = new WeakMap<TickStore, Map<string, AlertCache>>()

function alertCache(store: TickStore, groupId: string): AlertCache {
  let groups = caches.get(store)
  if (!groups) caches.set(store, (groups = new Map<string, AlertCache>()))
  let cache = groups.get(groupId)
  if (!cache) groups.set(groupId, (cache = new AlertCache()))
  return cache
}

/** The write plan of a batch; `cache` keeps the alert history between batches (none: read it all). */
export async function buildPlan(
  items: BatchItem[],
  ctx: PlanContext,
  timezone: string,
  cache = new AlertCache(),
): Promise<WritePlan> {
  cache.check(ctx.stored)
  const unique = uniqueOffsets(items)
  const fresh = unique.filter((i) => i.offset >= (ctx.stored.get(offsetKey(i.topic, i.partition)) ?? 0n))
  const candidates: Tick[] = []
  const dead: DeadLetter[] = []
  for (const i of fresh) {
    if (i.tick) candidates.push(i.tick)
    else if (i.dead) dead.push(i.dead)
  }
  // The store checks the trade ids while the bars of the common case (no duplicate) are built
  // here; they are built again only if a duplicate was found.
  // The rules are read in the same round trip as the check (they do not depend on it), and sent
  // first: a check that fails on a stored id aborts the transaction up to its savepoint, and a
  // statement queued behind it would fail too.
  const rules = candidates.length > 0 ? ctx.alertRules() : undefined
  rules?.catch(() => {}) // awaited below
  const checking = duplicateIds(candidates, ctx)
  checking.catch(() => {}) // awaited below; a failure must not surface as unhandled first
  let ticks = candidates
  let bars = aggregate(candidates, INTERVALS, timezone)
  const repeated = await checking
  if (repeated.size > 0) {
    ticks = []
    candidates.forEach((t, i) => (repeated.has(i) ? dead.push(duplicateOf(t)) : ticks.push(t)))
    bars = aggregate(ticks, INTERVALS, timezone)
  }
  const firings = rules ? await alertFirings(ticks, await rules, ctx, cache) : []
  const offsets = nextOffsets(items, ctx)
  cache.advance(offsets)
  const gaps = offsetGaps(firstOffsets(fresh), ctx.stored)
  return {
    ticks,
    bars,
    firings,
    deadLetters: dead,
    offsets,
    skipped: items.length - fresh.length,
    ...(gaps.length > 0 ? { gaps } : {}),
  }
}

/** The smallest offset per partition (`${topic}\0${partition}`); the key is built once per run of one partition. */
function firstOffsets(items: BatchItem[]): Map<string, bigint> {
  const first = new Map<string, bigint>()
  let last: BatchItem | undefined
  let key = ''
  for (const i of items) {
    if (last?.partition !== i.partition || last.topic !== i.topic) key = offsetKey(i.topic, i.partition)
    last = i
    const f = first.get(key)
    if (f === undefined || i.offset < f) first.set(key, i.offset)
  }
  return first
}

/** The alert firings of the trades to store, against the history stored before them. */
async function alertFirings(
  ticks: Tick[],
  rules: AlertRule[],
  ctx: PlanContext,
  cache: AlertCache,
): Promise<AlertFiring[]> {
  if (ticks.length === 0) return []
  cache.retain(rules)
  if (rules.length === 0) return []
  const needs = historyNeeds(rules, ticks)
  if (needs.length === 0) return []
  const read = cache.missing(needs)
  const stored = read.length > 0 ? await ctx.alertHistory(read) : EMPTY
  const firings = evaluateAlerts(rules, ticks, cache.history(read, stored, needs))
  cache.compact(rules)
  return firings
}

const EMPTY: AlertHistory = { trades: new Map(), bars: new Map(), series: new Map() }

/**
 * Positions of the trades whose (source, trade id) was already stored, or came earlier in the
 * batch: those are duplicates (dead letters with reason duplicate_trade_id).
 */
async function duplicateIds(ticks: Tick[], ctx: PlanContext): Promise<Set<number>> {
  const { sources, tradeIds, index, repeated } = idsToClaim(ticks)
  for (const pos of await ctx.claimTradeIds(sources, tradeIds)) repeated.add(index[pos]!)
  return repeated
}

/**
 * The trade ids a batch claims, each (source, id) once with its trade's position, and the
 * positions of the trades repeating an id that came earlier in the batch.
 */
function idsToClaim(ticks: Tick[]): {
  sources: string[]
  tradeIds: string[]
  index: number[]
  repeated: Set<number>
} {
  const firstSeen = new Map<string, Set<string>>()
  const repeated = new Set<number>()
  const sources: string[] = []
  const tradeIds: string[] = []
  const index: number[] = []
  for (let i = 0; i < ticks.length; i++) {
    const t = ticks[i]!
    if (t.tradeId === null) continue
    let ids = firstSeen.get(t.source)
    if (!ids) firstSeen.set(t.source, (ids = new Set()))
    if (ids.has(t.tradeId)) {
      repeated.add(i)
      continue
    }
    ids.add(t.tradeId)
    sources.push(t.source)
    tradeIds.push(t.tradeId)
    index.push(i)
  }
  return { sources, tradeIds, index, repeated }
}

/** The next offset per partition after this batch (never behind what is stored). */
function nextOffsets(items: BatchItem[], ctx: Pick<PlanContext, 'stored'>): PartitionOffset[] {
  const next = new Map<string, PartitionOffset>()
  let last: BatchItem | undefined
  let cur: PartitionOffset | undefined
  for (const i of items) {
    // The partition's entry is looked up once per run of it; `next` is the highest offset here,
    // one is added at the end (a bigint per trade was garbage).
    if (cur === undefined || last!.partition !== i.partition || last!.topic !== i.topic) {
      const k = offsetKey(i.topic, i.partition)
      cur = next.get(k)
      if (!cur) next.set(k, (cur = { topic: i.topic, partition: i.partition, next: i.offset }))
    }
    last = i
    if (i.offset > cur.next) cur.next = i.offset
  }
  for (const o of next.values()) o.next += 1n
  return [...next.entries()].map(([k, o]) => {
    const prev = ctx.stored.get(k) ?? 0n
    return o.next > prev ? o : { ...o, next: prev }
  })
}
