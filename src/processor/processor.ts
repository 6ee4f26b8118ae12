// The processor: consumes trade events in batches, validates them, turns each batch into a write
// plan (ticks, bar deltas, dead letters, offsets) and has the store persist it in one PostgreSQL
// transaction. A transient failure is retried with backoff while the batch stays in hand, so a slow
// or restarting database pauses consumption (bounded read-ahead in the bus) instead of buffering
// without bound or losing the batch. A failure caused by the batch's content is bisected down to
// the message causing it, which is dead-lettered (reason unstorable); the rest is stored.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Bus, BusMessage, BusProducer } from '../bus/types.ts'
import { sameOrder } from '../util/same-order.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { TickStore, BatchResult, PreparedWrite } from '../store/ticks.ts'
import {
  INTERVALS,
  type BatchItem,
  type DeadLetter,
  type Interval,
  type OffsetGap,
  type Tick,
} from '../domain/types.ts'
import { Watermarks, type BarUpdate } from './lateness.ts'
import { classify, type Classified, type ValidationOptions } from './validate.ts'
import { prepareWrite, uniqueOffsets, writeBatch } from './plan.ts'
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, deadLetterRequests } from './dead-letters.ts'
import { StepError, failedStep, isContentFailure } from './failures.ts'
import { DiskFullError, TickflowError, errorMessage } from '../errors.ts'
import { isDiskFull } from '../store/disk-full.ts'
import { AvroTradeDecoder, isAvroFramed } from '../bus/wire.ts'
import type { SchemaRegistry } from '../bus/registry.ts'
import { backoffDelay } from '../util/backoff.ts'
import { withTimeout } from '../util/timeout.ts'
import { unmappedConditions } from '../domain/conditions.ts'

/** How often a running processor checks that its topic is the incarnation it started on. */
const TOPIC_ID_CHECK_MS = 2000

export interface ProcessorOptions {
  bus: Bus
  store: TickStore
  topic: string
  groupId: string
  /**
   * Kafka's id of the topic incarnation the group's stored offsets belong to (src/store/topics.ts):
   * if the topic is deleted and created again while the processor runs, it stops rather than skip
   * the new topic's messages as stored.
   */
  topicId?: string
  log: Logger
  metrics: Metrics
  /** maxMessageBytes undefined = the topic's max.message.bytes (none on the in-process bus). */
  validation?: ValidationOptions
  /** Dead letters are also produced here (original bytes, reason in headers); undefined = table only. */
  dlqTopic?: string
  maxBatch?: number
  /** How long a batch that is not full waits for more messages (Kafka; see ConsumerOptions). */
  lingerMs?: number
  /** Trades may arrive this long after their bar's end and still be on time (default 5 s). */
  allowedLatenessMs?: number
  /**
   * Called after each committed batch with its bar updates marked final or not (the live API tail),
   * and when the batch committed (ms since the epoch): the call itself comes a little later, after
   * the next batch has sent its first statement.
   */
  onCommitted?: (result: BatchResult, bars: BarUpdate[], committedAt: number) => void
  /**
   * Whether onCommitted wants the batch's bars as stored (the live tail has subscribers); asked per
   * batch. Without it they are sent back whenever onCommitted is given; without onCommitted, never.
   */
  wantsBars?: () => boolean
  /** Called after a committed batch that stored alert firings (their webhooks are due). */
  onFired?: () => void
  /** Where Avro-framed messages find their writer schemas; without it they are dead letters. */
  registry?: SchemaRegistry
}

export interface Processor {
  /** Resolves when the processor stopped (close()) ; rejects on a fatal error. */
  done: Promise<void>
  /** Stops after the batch in hand is stored (or not); every call waits for the same stop. */
  close(): Promise<void>
}

export function startProcessor(o: ProcessorOptions): Processor {
  const consumer = o.bus.consumer({
    groupId: o.groupId,
    topics: [o.topic],
    maxBatch: o.maxBatch ?? 5000,
    lingerMs: o.lingerMs,
  })
  // Each batch waits for its dead letters' acknowledgement before it commits: sent at once.
  const dlq: BusProducer | undefined = o.dlqTopic ? o.bus.producer({ lingerMs: 0 }) : undefined
  const wantsBars = o.onCommitted ? (o.wantsBars ?? (() => true)) : () => false
  let closing = false
  const lastStoredTimestamp = new Map<number, number>()
  /** The offset of the last message this consumer stored, per partition (see updateLag). */
  const lastStoredOffset = new Map<number, bigint>()
  const unmappedSeen = new Set<string>()
  let watermarks: Watermarks | undefined
  const avro = new AvroTradeDecoder(o.registry)
  let limits: Promise<{ validation: ValidationOptions; dlqBytes: number }> | undefined
  /** The validation options once known: messages shown ahead are classified only then. */
  let known: ValidationOptions | undefined
  /**
   * Messages of the next batch classified while the current one was being written. A new map for
   * each batch handed out: a WeakMap cost about 1 µs per entry and its ephemerons slow every full
   * collection.
   */
  let early = new Map<BusMessage, Classified>()
  let aheadRun = 0
  /** The daily bars' time zone, once read: plans are prepared ahead only then. */
  let timezone: string | undefined
  /** The items and write plan of the messages shown ahead, made while the current batch was being written. */
  let aheadPrepared:
    { messages: readonly BusMessage[]; items: BatchItem[]; write: PreparedWrite | undefined } | undefined
  /** Batches written the usual way before a plan is prepared again, after one lost its bet. */
  let unpreparedFor = 0
  /** The committed batches' bookkeeping, in commit order. */
  let bookkept: Promise<void> = Promise.resolve()

  /**
   * Classifies the messages of the next batch in small slices between the current batch's
   * database round trips; a newer look-ahead (or the batch itself) takes over from an older one.
   * Avro-framed messages wait for the batch, which first fetches their writer schemas.
   */
  function ahead(next: readonly BusMessage[]): void {
    const run = ++aheadRun
    const options = known
    if (!options) return
    let i = 0
    const slice = (): void => {
      if (run !== aheadRun || closing) return
      for (const end = Math.min(i + AHEAD_SLICE, next.length); i < end; i++) {
        const m = next[i]!
        if (!early.has(m) && !isAvroFramed(m.value)) early.set(m, classify(m, options))
      }
      if (i < next.length) setImmediate(slice)
      else if (timezone !== undefined && unpreparedFor === 0) setImmediate(prepare)
    }
    // Then the batch's whole write plan, if every message could be classified here.
    const prepare = (): void => {
      if (run !== aheadRun || closing || timezone === undefined) return
      const classified: Classified[] = []
      for (const m of next) {
        const c = early.get(m)
        if (!c) return
        classified.push(c)
      }
      const items = itemsOf(next, classified)
      aheadPrepared = { messages: next, items, write: prepareWrite(items, timezone) }
    }
    setImmediate(slice)
  }

  async function readLimits(): Promise<{ validation: ValidationOptions; dlqBytes: number }> {
    const validation = { ...o.validation }
    validation.maxMessageBytes ??= await o.bus.maxMessageBytes(o.topic)
    const dlqBytes = o.dlqTopic ? await o.bus.maxMessageBytes(o.dlqTopic) : undefined
    return { validation, dlqBytes: dlqBytes ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES }
  }

  async function handle(batch: BusMessage[]): Promise<void> {
    if (recreated) throw recreated
    // Read before any await: the look-ahead for the batch after this one is already under way.
    const shown = aheadPrepared
    aheadPrepared = undefined
    const { validation } = await (limits ??= readLimits().catch((err: unknown) => {
      limits = undefined
      throw err
    }))
    // Writer schemas of new ids come from the registry; while it is unreachable the batch stays in
    // hand and is retried, like a database outage.
    const framed = batch.filter((m) => isAvroFramed(m.value)).map((m) => m.value)
    if (framed.length > 0)
      await withRetry(() =>
        avro.prepare(framed).catch((err: unknown) => {
          throw new StepError('schema registry lookup', err)
        }),
      )
    known = validation
    const withAvro = { ...validation, avro }
    // The look-ahead's items and plan serve when it was shown exactly this batch.
    const planned = unpreparedFor === 0 && shown && sameOrder(shown.messages, batch) ? shown : undefined
    const items =
      planned?.items ??
      itemsOf(
        batch,
        batch.map((m) => early.get(m) ?? classify(m, withAvro)),
      )
    // What was classified ahead served this batch; the look-ahead of the next one starts after this.
    early = new Map()
    timezone ??= await o.store.timezone()
    let prepared: PreparedWrite | undefined
    if (unpreparedFor > 0) unpreparedFor--
    else prepared = planned ? planned.write : prepareWrite(items, timezone)
    const started = performance.now()
    const result = merge(await write(items, true, prepared))
    // A plan that lost its bet (offsets or trade ids already stored, alert rules in force) is not
    // prepared again for a while: each loss cost the batch's writes twice.
    if (result.prepared === 'lost') unpreparedFor = UNPREPARED_AFTER_LOSS
    const now = Date.now()
    o.metrics.dbWriteSeconds.observe((performance.now() - started) / 1000)
    o.metrics.batchSize.observe(batch.length)
    o.metrics.ticksPersisted.inc(result.stored.length)
    o.metrics.duplicatesSkipped.inc(result.skipped)
    for (const d of result.deadLettered) o.metrics.deadLetters.inc({ reason: d.reason })
    for (const f of result.firings ?? []) o.metrics.alertFirings.inc({ kind: f.kind })
    if (result.firings?.length) o.onFired?.()
    if (result.gaps) void reportGaps(result.gaps)
    // The batch's partition list is built only when the line is written.
    if (o.log.isLevelEnabled('debug'))
      o.log.debug(
        {
          topic: o.topic,
          partitions: [...new Set(batch.map((m) => m.partition))],
          firstOffset: String(batch[0]!.offset),
          lastOffset: String(batch.at(-1)!.offset),
          rows: result.stored.length,
          dead: result.deadLettered.length,
          skipped: result.skipped,
          ms: Math.round(performance.now() - started),
        },
        'batch committed',
      )
    watermarks ??= new Watermarks(o.allowedLatenessMs ?? 5000, await o.store.timezone())
    const marks = watermarks
    // The per-trade bookkeeping of a committed batch (latency histogram, unmapped conditions,
    // watermarks, then the live tail) runs while the next batch is written, batch after batch, a
    // slice of trades per turn of the event loop: the database's answers to the next batch's
    // statements wait for one slice, not for the whole batch's bookkeeping.
    bookkept = bookkept.then(async () => {
      try {
        const stored = result.stored
        const late = new Map<Interval, number>()
        let i = 0
        do {
          await nextTurn()
          const slice = stored.slice(i, (i += BOOKKEEPING_SLICE))
          for (const t of slice) o.metrics.endToEndLatency.observe(Math.max(0, now - t.tsMs) / 1000)
          countUnmapped(slice, o, unmappedSeen)
          for (const [interval, n] of marks.observe(slice, INTERVALS))
            late.set(interval, (late.get(interval) ?? 0) + n)
        } while (i < stored.length)
        for (const [interval, n] of late) o.metrics.lateTrades.inc({ interval }, n)
        o.onCommitted?.(result, marks.classify(result.bars), now)
      } catch (err) {
        o.log.warn({ err: errorMessage(err) }, 'the bookkeeping of a committed batch failed')
      }
    })
    for (const m of batch) {
      lastStoredTimestamp.set(m.partition, m.timestamp)
      lastStoredOffset.set(m.partition, m.offset)
    }
  }

  /**
   * Writes the items, retrying transient failures. A content failure splits the items in two
   * (offset order kept, so each half commits its own offsets) until the one message causing it is
   * found: it becomes a dead letter and everything else is stored.
   */
  async function write(items: BatchItem[], publish = true, prepared?: PreparedWrite): Promise<BatchResult[]> {
    try {
      return [await withRetry(() => writeOnce(items, publish, prepared))]
    } catch (err) {
      if (closing || !isContentFailure(err)) throw err
      if (items.length > 1) {
        const mid = items.length >> 1
        return [...(await write(items.slice(0, mid), publish)), ...(await write(items.slice(mid), publish))]
      }
      const item = items[0]!
      o.log.warn(
        { err: errorMessage(err), partition: item.partition, offset: String(item.offset) },
        `${failedStep(err)} refused one message; it is dead-lettered`,
      )
      // A dead letter the DLQ refused even cut to fit is kept in the table only.
      if (item.dead) {
        if (!publish) throw err
        return write([item], false)
      }
      return write([{ ...item, tick: undefined, dead: unstorable(item, err) }], publish)
    }
  }

  // Dead letters (invalid and duplicate) go to the DLQ topic inside the transaction, before it
  // commits: at least once into the topic (a crash after publishing re-publishes), exactly once
  // into the dead_letters table.
  const writeOnce = (items: BatchItem[], publish: boolean, prepared?: PreparedWrite): Promise<BatchResult> =>
    writeBatch(o.store, o.groupId, items, dlq && publish ? publishDead : undefined, prepared, wantsBars)

  async function publishDead(dead: DeadLetter[]): Promise<void> {
    if (!dlq || !o.dlqTopic) return
    const { dlqBytes } = await limits!
    try {
      for (const request of deadLetterRequests(dead, dlqBytes)) await dlq.send(o.dlqTopic, request)
    } catch (err) {
      throw new StepError(`publishing ${dead.length} dead letters to ${o.dlqTopic}`, err)
    }
  }

  async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        if (closing || isContentFailure(err)) throw err
        if (isDiskFull(err)) throw diskFull(err)
        const step = failedStep(err)
        if (step === 'database write') o.metrics.dbWriteErrors.inc()
        const delay = backoffDelay(STEP_RETRY, attempt)
        o.log.warn(
          { err: errorMessage(err), attempt, delayMs: Math.round(delay) },
          `${step} failed; retrying`,
        )
        await new Promise((r) => setTimeout(r, delay))
      }
    }
  }

  // Retrying a full disk only waits for someone to free space, while the command looks alive: it
  // stops instead, the batch in hand neither stored nor its offsets committed.
  const diskFull = (err: unknown): DiskFullError =>
    new DiskFullError(
      `${o.store.db.kind === 'pglite' ? 'the disk holding the embedded store' : "PostgreSQL's disk"} is full (${errorMessage(err)}): ` +
        'the batch in hand was not stored; free space (tickflow purge --before TIME removes old history), ' +
        'then run the command again to store the rest',
      { cause: err },
    )

  /**
   * A batch began past the offset its partition had stored: the messages between were not in the
   * topic when it was read. Below the topic's first offset they were deleted by its retention (the
   * processor was stopped, or behind, for longer than retention.ms): lost before tickflow stored
   * them, which must not pass unseen. Offsets above it held no message (transaction markers,
   * compaction) and lose nothing.
   */
  async function reportGaps(gaps: OffsetGap[]): Promise<void> {
    try {
      const starts = new Map<string, Map<number, bigint>>()
      for (const g of gaps) {
        let start = starts.get(g.topic)
        if (!start) starts.set(g.topic, (start = await o.bus.startOffsets(g.topic)))
        const gone = (start.get(g.partition) ?? 0n) < g.to ? (start.get(g.partition) ?? 0n) : g.to
        const lost = gone - g.from
        const where = { topic: g.topic, partition: g.partition, from: String(g.from), to: String(g.to) }
        if (lost <= 0n) {
          o.log.debug(where, 'offsets held no message (transaction markers or compaction)')
          continue
        }
        o.metrics.messagesMissed.inc({ topic: g.topic, partition: String(g.partition) }, Number(lost))
        o.log.warn(
          { ...where, lost: Number(lost) },
          `${lost} messages of ${g.topic} partition ${g.partition} (offsets ${g.from} to ${gone - 1n}) were deleted by the topic's retention before they were stored: the processor was stopped or behind for longer than the topic keeps messages`,
        )
      }
    } catch (err) {
      o.log.warn({ err: errorMessage(err) }, 'checking offsets a batch passed over failed')
    }
  }

  // The topic's incarnation, checked every few seconds: a new one numbers its messages from 0, below
  // the offsets stored for the old one, and they would be skipped as stored. The processor stops
  // instead (no batch is handled after the check saw it); run again, it drops the old offsets
  // (runtime.ts) and reads the new topic from its start.
  let recreated: TickflowError | undefined
  let failRecreated: ((err: TickflowError) => void) | undefined
  const incarnation = o.topicId
    ? setInterval(() => {
        void o.bus
          .topicId(o.topic)
          .then((id) => {
            if (id === undefined || id === o.topicId || recreated) return
            recreated = new TickflowError(
              'TF_TOPIC_RECREATED',
              `topic ${o.topic} was deleted and created again while this processor ran: run it again to read the new topic from its start (the offsets stored for the old one are dropped then; trades already stored are recognised by their ids)`,
            )
            o.log.warn({ topic: o.topic, previous: o.topicId, current: id }, recreated.message)
            // The command's shutdown closes the consumer (processor.close()).
            failRecreated?.(recreated)
          })
          .catch((err: unknown) => o.log.debug({ err: errorMessage(err) }, 'topic id check failed'))
      }, TOPIC_ID_CHECK_MS)
    : undefined
  incarnation?.unref()

  const refreshLag = (): void =>
    void updateLag().catch((err: unknown) => o.log.debug({ err: errorMessage(err) }, 'lag update failed'))
  const lagTimer = setInterval(refreshLag, 1000)
  refreshLag()
  lagTimer.unref()

  async function updateLag(): Promise<void> {
    const [end, stored] = await Promise.all([
      o.bus.endOffsets(o.topic),
      o.store.storedOffsets(o.groupId, o.topic),
    ])
    // A partition another consumer of the group has stored past this one's last message has moved
    // away in a rebalance: its old timestamp no longer says how far behind anything is.
    for (const [p, offset] of lastStoredOffset)
      if ((stored.get(p) ?? 0n) > offset + 1n) {
        lastStoredOffset.delete(p)
        lastStoredTimestamp.delete(p)
      }
    let anyLag = false
    for (const [p, e] of end) {
      const lag = e - (stored.get(p) ?? 0n)
      o.metrics.consumerLag.set({ topic: o.topic, partition: String(p) }, Number(lag > 0n ? lag : 0n))
      if (lag > 0n) anyLag = true
    }
    const oldest = Math.min(...[...lastStoredTimestamp.values()])
    o.metrics.consumerLagSeconds.set(
      anyLag && Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0,
    )
  }

  // A new incarnation of the topic stops the processor even with no batch to hand it (the new
  // topic's first messages may have been skipped before the check saw it; the next run reads them).
  const gone = new Promise<never>((_, reject) => (failRecreated = reject))
  gone.catch(() => {})
  const done = Promise.race([consumer.run(handle, ahead), gone]).finally(() => {
    clearInterval(lagTimer)
    clearInterval(incarnation)
  })
  let closed: Promise<void> | undefined
  return {
    done,
    close: () => (closed ??= stop()),
  }

  async function stop(): Promise<void> {
    closing = true
    clearInterval(lagTimer)
    // The offsets that matter are in PostgreSQL, committed with their rows: a consumer that cannot
    // close cleanly (a broker gone, a reconnect under way) is left behind after a few seconds
    // instead of holding the process past its stop deadline. Nothing uncommitted is lost.
    const consumerClosed = Promise.all([consumer.close(), done.catch(() => {})])
    if (!(await within(consumerClosed, CLOSE_MS)))
      o.log.warn('the Kafka consumer did not close in time; leaving it')
    await bookkept
    await within(dlq?.close() ?? Promise.resolve(), CLOSE_MS / 2)
    await within(updateLag(), 1000)
  }
}

const CLOSE_MS = 5000
/** Batches written without a prepared plan after one lost its bet. */
const UNPREPARED_AFTER_LOSS = 20
/**
 * Messages classified ahead per turn of the event loop. Small, so the database's answers to the
 * batch in hand wait little for this thread: each of that batch's statements is sent after the
 * answer to the one before. Draining 300,000 trades from Kafka, alternating, with 1,000 per turn
 * the machine was 64-65 % busy, as busy as without the look-ahead; with 100, 71-74 %
 * (docs/benchmarks.md, the seventeenth pass).
 */
const AHEAD_SLICE = 100
/** Trades of a committed batch's bookkeeping per turn of the event loop. */
const BOOKKEEPING_SLICE = 2000
/** A failed step is retried after 100 ms doubling to 10 s, equal jitter. */
const STEP_RETRY = { initialMs: 100, maxMs: 10_000, maxDoublings: 7, jitter: 'equal' } as const

/** Waits for p at most ms; true when it settled (either way) in time. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = p.then(
    () => true,
    () => true,
  )
  return withTimeout(settled, ms, () => false)
}

/** The batch's items, each offset once. */
function itemsOf(batch: readonly BusMessage[], classified: Classified[]): BatchItem[] {
  return uniqueOffsets(
    batch.map((m, i) => {
      const c = classified[i]!
      return c.ok
        ? { topic: m.topic, partition: m.partition, offset: m.offset, tick: c.tick }
        : { topic: m.topic, partition: m.partition, offset: m.offset, dead: c.dead }
    }),
  )
}

function unstorable(item: BatchItem, err: unknown): DeadLetter {
  const t = item.tick!
  return {
    reason: 'unstorable',
    detail: `${failedStep(err)} refused it: ${errorMessage(err)}`.slice(0, 1000),
    topic: item.topic,
    partition: item.partition,
    offset: item.offset,
    key: t.symbol,
    payload: t.raw,
  }
}

/** One result for a batch written in parts; a bar changed by several parts is reported as last stored. */
function merge(parts: BatchResult[]): BatchResult {
  if (parts.length === 1) return parts[0]!
  const bars = new Map<string, BatchResult['bars'][number]>()
  for (const p of parts) for (const b of p.bars) bars.set(`${b.symbol}\0${b.interval}\0${b.bucket}`, b)
  return {
    stored: parts.flatMap((p) => p.stored),
    deadLettered: parts.flatMap((p) => p.deadLettered),
    skipped: parts.reduce((n, p) => n + p.skipped, 0),
    bars: [...bars.values()],
    firings: parts.flatMap((p) => p.firings ?? []),
  }
}

/**
 * Counts the stored trades' sale conditions that the rule table does not map (they restrict no bar
 * field); each (source, condition) is logged once as a warning, so a new code is not silent.
 */
export function countUnmapped(
  stored: Tick[],
  o: Pick<ProcessorOptions, 'metrics' | 'log'>,
  seen: Set<string>,
): void {
  for (const t of stored)
    for (const condition of unmappedConditions(t.source, t.conditions)) {
      o.metrics.unmappedConditions.inc({ source: t.source, condition })
      const key = `${t.source}\0${condition}`
      if (seen.has(key)) continue
      seen.add(key)
      o.log.warn(
        { source: t.source, condition },
        'sale condition not in the rule table: the trade counts in every bar field',
      )
    }
}
