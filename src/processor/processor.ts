// The processor: consumes trade events in batches, validates them, and stores each batch (ticks,
// dead letters, offsets) in one PostgreSQL transaction. A failed transaction is retried with
// backoff while the batch stays in hand, so a slow or restarting database pauses consumption
// (bounded read-ahead in the bus) instead of buffering without bound or losing the batch.
import type { Logger } from 'pino'
import type { Bus, BusMessage, BusProducer } from '../bus/types.ts'
import type { Metrics } from '../metrics/registry.ts'
import { TickStore, type BatchItem, type BatchResult } from '../store/ticks.ts'
import { INTERVALS } from '../store/bars.ts'
import { Watermarks, type BarUpdate } from './lateness.ts'
import { classify, type DeadLetter, type ValidationOptions } from './validate.ts'
import { errorMessage } from '../errors.ts'

export interface ProcessorOptions {
  bus: Bus
  store: TickStore
  topic: string
  groupId: string
  log: Logger
  metrics: Metrics
  validation?: ValidationOptions
  /** Dead letters are also produced here (original bytes, reason in headers); undefined = table only. */
  dlqTopic?: string
  maxBatch?: number
  /** Trades may arrive this long after their bar's end and still be on time (default 5 s). */
  allowedLatenessMs?: number
  /** Called after each committed batch with its bar updates marked final or not (the live API tail). */
  onCommitted?: (result: BatchResult, bars: BarUpdate[]) => void
}

export interface Processor {
  /** Resolves when the processor stopped (close()) ; rejects on a fatal error. */
  done: Promise<void>
  close(): Promise<void>
}

export function startProcessor(o: ProcessorOptions): Processor {
  const consumer = o.bus.consumer({ groupId: o.groupId, topics: [o.topic], maxBatch: o.maxBatch ?? 5000 })
  const dlq: BusProducer | undefined = o.dlqTopic ? o.bus.producer() : undefined
  let closing = false
  const lastStoredTimestamp = new Map<number, number>()
  let watermarks: Watermarks | undefined

  async function handle(batch: BusMessage[]): Promise<void> {
    const items: BatchItem[] = batch.map((m) => {
      const c = classify(m, o.validation)
      return c.ok
        ? { topic: m.topic, partition: m.partition, offset: m.offset, tick: c.tick }
        : { topic: m.topic, partition: m.partition, offset: m.offset, dead: c.dead }
    })
    const started = performance.now()
    // Dead letters (invalid and duplicate) go to the DLQ topic inside the transaction, before it
    // commits: at least once into the topic (a crash after publishing re-publishes), exactly once
    // into the dead_letters table.
    const result = await withRetry('database write', () =>
      o.store.writeBatch(o.groupId, items, dlq ? publishDead : undefined),
    )
    const now = Date.now()
    o.metrics.dbWriteSeconds.observe((performance.now() - started) / 1000)
    o.metrics.batchSize.observe(batch.length)
    o.metrics.ticksPersisted.inc(result.stored.length)
    o.metrics.duplicatesSkipped.inc(result.skipped)
    for (const d of result.deadLettered) o.metrics.deadLetters.inc({ reason: d.reason })
    for (const t of result.stored) o.metrics.endToEndLatency.observe(Math.max(0, now - t.tsMs) / 1000)
    for (const m of batch) lastStoredTimestamp.set(m.partition, m.timestamp)
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
    for (const [interval, n] of watermarks.observe(result.stored, INTERVALS))
      o.metrics.lateTrades.inc({ interval }, n)
    o.onCommitted?.(result, watermarks.classify(result.bars))
  }

  async function publishDead(dead: DeadLetter[]): Promise<void> {
    if (!dlq || !o.dlqTopic) return
    await dlq.send(
      o.dlqTopic,
      dead.map((d) => ({
        key: d.key,
        value: d.payload,
        headers: {
          reason: d.reason,
          detail: d.detail.slice(0, 500),
          'source-topic': d.topic,
          'source-partition': String(d.partition),
          'source-offset': String(d.offset),
        },
      })),
    )
  }

  async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        if (closing) throw err
        if (what === 'database write') o.metrics.dbWriteErrors.inc()
        const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2)
        o.log.warn(
          { err: errorMessage(err), attempt, delayMs: Math.round(delay) },
          `${what} failed; retrying`,
        )
        await new Promise((r) => setTimeout(r, delay))
      }
    }
  }

  const refreshLag = (): void =>
    void updateLag().catch((err: unknown) => o.log.debug({ err: errorMessage(err) }, 'lag update failed'))
  const lagTimer = setInterval(refreshLag, 1000)
  refreshLag()
  lagTimer.unref()

  async function updateLag(): Promise<void> {
    const [end, stored] = await Promise.all([o.bus.endOffsets(o.topic), storedOffsetsOf()])
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

  async function storedOffsetsOf(): Promise<Map<number, bigint>> {
    const rows = await o.store.db.query<{ partition: number; next_offset: string }>(
      'select partition, next_offset from consumer_offsets where group_id = $1 and topic = $2',
      [o.groupId, o.topic],
    )
    return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]))
  }

  const done = consumer.run(handle).finally(() => clearInterval(lagTimer))
  return {
    done,
    async close() {
      closing = true
      clearInterval(lagTimer)
      await consumer.close()
      await done.catch(() => {})
      await dlq?.close()
      await updateLag().catch(() => {})
    },
  }
}
