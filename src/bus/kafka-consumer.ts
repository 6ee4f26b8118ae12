// The bus consumer on Kafka: a consumer group reading from the committed offset (earliest when
// none), handing out batches of at most maxBatch messages and committing each batch's offsets only
// after the handler resolved, at most once a second (and at a close). A client whose stream fails
// for good is replaced by a new one.
//
//   idle ──run()──▶ starting ──stream──▶ reading ──stream failed──▶ replacing ──▶ starting …
//                        └──────────────────┴─────────close()────────────▶ closing ──▶ closed
import { withTimeout } from '../util/timeout.ts'
import {
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import { ServiceError, TickflowError, errorMessage } from '../errors.ts'
import type { ClientBase } from './kafka-producer.ts'
import { RefetchFilter, STALL_OPTIONS, watchHeartbeatStall } from './kafka-workarounds.ts'
import type { AheadHandler, BatchHandler, BusConsumer, BusMessage, ConsumerOptions } from './types.ts'

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>
type Client = Consumer<Buffer, Buffer, Buffer, Buffer>
type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>

export type ConsumerPhase = 'idle' | 'starting' | 'reading' | 'replacing' | 'closing' | 'closed'

/**
 * Handled batches' offsets are committed to the group at most this often: the offsets that count
 * are the store's, so a commit only saves re-reading after a restart or a rebalance, and one per
 * batch cost a request to the broker each (about 100 a second at 10,000 trades/s).
 */
export const COMMIT_INTERVAL_MS = 1000

export class KafkaBusConsumer implements BusConsumer {
  #phase: ConsumerPhase = 'idle'
  #client: Client
  /** The stream being opened or read; a close waits for an opening one before closing it. */
  #opening: Promise<Stream> | undefined
  #stream: Stream | undefined
  #reading: Promise<void> | undefined
  #closed: Promise<void> | undefined
  readonly #stop = new AbortController()
  readonly #commits = new Set<Promise<void>>()
  /** Each partition's last handled message whose offset is not committed yet. */
  readonly #uncommitted: LastByPartition = new Map()
  #commitTimer: NodeJS.Timeout | undefined
  #lastCommit = 0
  readonly #maxBatch: number
  readonly base: ClientBase
  readonly options: ConsumerOptions
  readonly warn: (message: string, err: unknown) => void
  readonly onClose: () => void

  constructor(
    base: ClientBase,
    options: ConsumerOptions,
    warn: (message: string, err: unknown) => void,
    onClose: () => void,
  ) {
    this.base = base
    this.options = options
    this.warn = warn
    this.onClose = onClose
    this.#maxBatch = options.maxBatch ?? 5000
    this.#client = this.#newClient()
  }

  get phase(): ConsumerPhase {
    return this.#phase
  }

  get #stopping(): boolean {
    return this.#phase === 'closing' || this.#phase === 'closed'
  }

  async run(handler: BatchHandler, ahead?: AheadHandler): Promise<void> {
    // A client whose fetches fail for good (a broker died, leadership moved) is replaced by a new
    // one after a backoff: uncommitted messages are simply read again, and the store skips what
    // it already holds.
    for (let attempt = 0; !this.#stopping; attempt++) {
      try {
        this.#phase = 'starting'
        this.#opening = this.#client.consume({
          topics: this.options.topics,
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          autocommit: false,
          highWaterMark: this.#maxBatch * 2,
        })
        this.#stream = await this.#opening
        if (!this.#stopping) this.#phase = 'reading'
        this.#reading = this.#read(this.#stream, handler, ahead)
        await this.#reading
        if (this.#stopping) break
        throw new ServiceError('kafka', 'the Kafka consumer stream ended unexpectedly')
      } catch (err) {
        if (this.#stopping) break
        // The handler gave up for good (the store's disk is full): a new client cannot help.
        if (err instanceof TickflowError && !err.retryable && err.code !== 'TF_KAFKA') {
          await this.close()
          throw err
        }
        this.#phase = 'replacing'
        // Offsets read through the failed client are committed by no one: they are read again.
        this.#dropUncommitted()
        this.warn('Kafka consumer failed; reconnecting with a new consumer', err)
        await this.#stream?.close().catch(() => {})
        await discard(this.#client)
        await new Promise((r) => setTimeout(r, this.base.retryDelay(undefined, 'consume', attempt)))
        if (!this.#stopping) this.#client = this.#newClient()
      }
    }
    // A close() requested by the handler finishes (commits flushed, group left) before run resolves.
    if (this.#closed) await this.#closed
  }

  /**
   * Stops after the batch in hand is handled and committed, then leaves the group. May be called
   * from inside the handler (without awaiting it there).
   */
  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown())
  }

  async #shutdown(): Promise<void> {
    this.#phase = 'closing'
    this.onClose()
    this.#stop.abort()
    // A consume() under way hands over its stream first: a client closed under it makes the new
    // stream fail before anything listens, an uncaught error.
    await bounded(this.#opening?.catch(() => {}) ?? Promise.resolve(), 10_000)
    await this.#reading?.catch(() => {})
    this.#flushCommits()
    // A commit can hang on a dead coordinator; the offsets that matter are in PostgreSQL.
    await bounded(Promise.allSettled([...this.#commits]), 10_000)
    if (this.#stream && !this.#stream.destroyed) await this.#stream.close().catch(() => {})
    await discard(this.#client)
    this.#phase = 'closed'
  }

  #newClient(): Client {
    return new Consumer({
      ...this.base,
      ...STALL_OPTIONS,
      clientId: `${this.base.clientId}-consumer`,
      groupId: this.options.groupId,
      maxWaitTime: 100,
      // Bytes per fetch (compressed): the client pushes whole fetch responses past its
      // highWaterMark, so this is what bounds the read-ahead in memory (about 7k trades of ~180
      // bytes with lz4; 512 KiB drained no faster and peaked 15-20 MiB higher).
      maxBytes: 256 * 1024,
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
    })
  }

  async #read(stream: Stream, handler: BatchHandler, ahead?: AheadHandler): Promise<void> {
    const batches = new BatchReader(stream, this.#maxBatch, this.options.lingerMs ?? 0)
    const wake = (): void => batches.wake()
    this.#stop.signal.addEventListener('abort', wake)
    const unwatch = watchHeartbeatStall(this.#client, (err) => batches.fail(err))
    let next: Cut | undefined
    try {
      for (;;) {
        let current = next
        next = undefined
        if (!current) {
          const raw = await batches.next(() => this.#stopping)
          if (!raw) break
          current = cut(raw)
        } else {
          batches.handOut(current.messages.length)
          if (this.#stopping) break
        }
        const handled = handler(current.messages)
        try {
          // A whole batch already buffered is cut now and shown ahead: it is exactly the next batch
          // handed out, so its validation and write plan are made while this one is in the
          // database instead of after it.
          const raw = ahead && batches.takeFull()
          if (ahead && raw) {
            next = cut(raw)
            ahead(next.messages)
          }
        } finally {
          await handled
        }
        // The batch is stored: advance the group. A failed commit only means re-reading; the
        // store skips what it already holds.
        this.#commit(current.last)
      }
    } finally {
      this.#stop.signal.removeEventListener('abort', wake)
      unwatch()
      batches.detach()
    }
  }

  /**
   * Marks each partition's offset after its last message of a handled batch for commit: at once
   * when the last commit was COMMIT_INTERVAL_MS ago or more, else when that much time has passed.
   */
  #commit(last: RawMessage[]): void {
    for (const r of last) keepLast(this.#uncommitted, r)
    if (this.#commitTimer) return
    const wait = this.#lastCommit + COMMIT_INTERVAL_MS - performance.now()
    if (wait <= 0) this.#flushCommits()
    else {
      this.#commitTimer = setTimeout(() => this.#flushCommits(), wait)
      this.#commitTimer.unref()
    }
  }

  #dropUncommitted(): void {
    clearTimeout(this.#commitTimer)
    this.#commitTimer = undefined
    this.#uncommitted.clear()
  }

  #flushCommits(): void {
    const last = lastOf(this.#uncommitted)
    this.#dropUncommitted()
    if (last.length === 0) return
    this.#lastCommit = performance.now()
    for (const r of last) {
      const p = r.commit()
      if (!p) continue
      const tracked = p.catch((err: unknown) =>
        this.warn('offset commit failed; the batch will be re-read and skipped', err),
      )
      this.#commits.add(tracked)
      void tracked.finally(() => this.#commits.delete(tracked))
    }
  }
}

/**
 * Cuts one stream into batches. Flowing mode with explicit pause/resume: at most two batches wait
 * in memory while the handler (the database) works, a batch cut ahead (takeFull) counted among
 * them; reading with read()/'readable' stalled under that load.
 */
class BatchReader {
  readonly #buffer: RawMessage[] = []
  readonly #refetch = new RefetchFilter()
  /** Messages of a batch cut ahead (takeFull) and not handed out yet: read ahead like the buffer. */
  #held = 0
  #failure: unknown
  #ended = false
  #wakeUp: (() => void) | undefined
  /** One wake-up queued for after the rest of this fetch has arrived, not one per message. */
  #wakeQueued = false
  readonly #wakeSoon = (): void => {
    this.#wakeQueued = false
    this.wake()
  }
  /** When the batch being gathered is handed out even if not full: its first message's arrival + lingerMs. */
  #lingerUntil = 0
  readonly #onData = (m: RawMessage): void => {
    if (!this.#refetch.accept(m)) return
    if (this.#buffer.length === 0) this.#lingerUntil = performance.now() + this.lingerMs
    this.#buffer.push(m)
    if (this.#buffer.length + this.#held >= this.maxBatch * 2) this.stream.pause()
    if (this.#buffer.length >= this.maxBatch) this.wake()
    else if (!this.#wakeQueued) {
      // let the rest of this fetch arrive before a batch is cut
      this.#wakeQueued = true
      setImmediate(this.#wakeSoon)
    }
  }
  readonly #onError = (err: unknown): void => this.fail(err)
  readonly #onClose = (): void => {
    this.#ended = true
    this.wake()
  }

  readonly stream: Stream
  readonly maxBatch: number
  readonly lingerMs: number

  constructor(stream: Stream, maxBatch: number, lingerMs: number) {
    this.stream = stream
    this.maxBatch = maxBatch
    this.lingerMs = lingerMs
    stream.on('data', this.#onData)
    stream.on('error', this.#onError)
    stream.on('close', this.#onClose)
  }

  wake(): void {
    const w = this.#wakeUp
    this.#wakeUp = undefined
    w?.()
  }

  /** The first failure wins; the messages already buffered are still handed out. */
  fail(err: unknown): void {
    this.#failure ??= err
    this.wake()
  }

  /**
   * The next batch; undefined once stopped or the stream ended; throws once it failed. A batch that
   * is not full is handed out lingerMs after its first message arrived (at once when the stream
   * ended or failed): messages that waited during the previous batch's write go without waiting.
   */
  async next(stopped: () => boolean): Promise<RawMessage[] | undefined> {
    while (!stopped()) {
      const wait = this.#lingerUntil - performance.now()
      if (
        this.#buffer.length > 0 &&
        this.#buffer.length < this.maxBatch &&
        wait > 0 &&
        !this.#ended &&
        this.#failure === undefined
      ) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((r) => {
          this.#wakeUp = r
          timer = setTimeout(() => this.wake(), wait)
        })
        clearTimeout(timer)
        continue
      }
      if (this.#buffer.length > 0) {
        const raw = this.#buffer.splice(0, this.maxBatch)
        this.#resumeIfLow()
        return raw
      }
      if (this.#failure !== undefined)
        throw new ServiceError('kafka', `Kafka consumer failed: ${errorMessage(this.#failure)}`, {
          cause: this.#failure,
        })
      if (this.#ended) return undefined
      await new Promise<void>((r) => (this.#wakeUp = r))
    }
    return undefined
  }

  /**
   * A whole batch if one is buffered, else nothing (the buffer is left to fill): a batch cut ahead,
   * counted as read ahead until handOut().
   */
  takeFull(): RawMessage[] | undefined {
    if (this.#buffer.length < this.maxBatch) return undefined
    const raw = this.#buffer.splice(0, this.maxBatch)
    this.#held += raw.length
    this.#resumeIfLow()
    return raw
  }

  /** The batch cut ahead (of n messages) goes to the handler: it is no longer read ahead. */
  handOut(n: number): void {
    this.#held -= n
  }

  /** A batch's worth is read ahead again once less than a batch waits in the buffer. */
  #resumeIfLow(): void {
    if (this.stream.isPaused() && this.#buffer.length < this.maxBatch) this.stream.resume()
  }

  detach(): void {
    this.stream.off('data', this.#onData)
    this.stream.off('close', this.#onClose)
    // An error after this reader is gone must not become an uncaught exception.
    this.stream.off('error', this.#onError)
    this.stream.on('error', () => {})
  }
}

/**
 * A batch as the handler gets it, and each partition's last message for the commit: the client's
 * own message objects of the batch can go while it is stored (and while one cut ahead waits).
 */
interface Cut {
  messages: BusMessage[]
  last: RawMessage[]
}

/** Each partition's last message seen: topic → partition → message. */
type LastByPartition = Map<string, Map<number, RawMessage>>

function keepLast(last: LastByPartition, m: RawMessage): void {
  let partitions = last.get(m.topic)
  if (!partitions) last.set(m.topic, (partitions = new Map<number, RawMessage>()))
  partitions.set(m.partition, m)
}

function lastOf(last: LastByPartition): RawMessage[] {
  return [...last.values()].flatMap((partitions) => [...partitions.values()])
}

function cut(raw: RawMessage[]): Cut {
  const last: LastByPartition = new Map()
  const messages = raw.map((m) => {
    keepLast(last, m)
    return toBusMessage(m)
  })
  return { messages, last: lastOf(last) }
}

function toBusMessage(m: RawMessage): BusMessage {
  const headers: Record<string, string> = {}
  for (const [k, v] of m.headers) headers[k.toString()] = v.toString()
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key == null ? null : m.key.toString(),
    value: m.value ?? Buffer.alloc(0),
    timestamp: Number(m.timestamp),
    headers,
  }
}

const bounded = <T>(p: Promise<T>, ms: number): Promise<T | undefined> => withTimeout(p, ms, () => undefined)

/**
 * Leaves the group if the coordinator answers within 5 s, then closes the client's connections
 * whatever happened, so retry loops still running inside it end instead of living on.
 */
async function discard(c: Client): Promise<void> {
  await bounded(
    c.close(true).catch(() => {}),
    5000,
  )
  await bounded(new Promise<void>((r) => c.connections.close(() => r())), 5000)
}
