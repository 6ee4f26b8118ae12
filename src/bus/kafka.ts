// The bus on Apache Kafka, through @platformatic/kafka (pure TypeScript; the measured choice is in
// docs/decisions/0001-kafka-client.md). Producer: idempotent, acks=all, batching by the caller's
// send() size, lz4. Consumer: a consumer group reading from the committed offset (earliest when
// none), handing out batches and committing each batch's offsets only after the handler resolved.
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  defaultPartitioner,
  findErrorBy,
  type MessageToProduce,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import { ServiceError, errorMessage } from '../errors.ts'
import type {
  BatchHandler,
  Bus,
  BusConsumer,
  BusMessage,
  BusProducer,
  ConsumerOptions,
  OutMessage,
  TopicSpec,
} from './types.ts'

export interface KafkaBusOptions {
  brokers: string[]
  clientId?: string
  /** Called for non-fatal client problems (a failed offset commit, a retried fetch). */
  onWarning?: (message: string, err: unknown) => void
}

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>

export function createKafkaBus(options: KafkaBusOptions): Bus {
  const clientId = options.clientId ?? 'tickflow'
  const warn = options.onWarning ?? (() => {})
  // Admin calls (topic creation, offsets) give up after ~10 s so start-up fails with a clear error;
  // the producer and consumer retry for ever with capped, jittered backoff so a broker restart
  // or a leader election mid-run only pauses them.
  const base = { clientId, bootstrapBrokers: options.brokers, retries: 10, retryDelay: 1000 }
  const lasting = { ...base, retries: true, retryDelay: backoff }
  const closers = new Set<() => Promise<void>>()

  async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = new Admin({ ...base, clientId: `${clientId}-admin` })
    try {
      return await fn(admin)
    } catch (err) {
      throw new ServiceError(
        'kafka',
        `Kafka admin request to ${options.brokers.join(',')} failed: ${errorMessage(err)}`,
        { cause: err },
      )
    } finally {
      await admin.close()
    }
  }

  return {
    kind: 'kafka',
    producer(): BusProducer {
      const producer = new Producer({
        ...lasting,
        clientId: `${clientId}-producer`,
        idempotent: true,
        acks: ProduceAcks.ALL,
        compression: 'lz4',
      })
      const close = async (): Promise<void> => {
        closers.delete(close)
        await producer.close()
      }
      closers.add(close)
      return {
        async send(topic: string, messages: OutMessage[]): Promise<void> {
          if (messages.length === 0) return
          // On a cluster, one request per partition: the client retries a request by the leader of
          // its first partition only, so a request spanning partitions whose leaders moved apart
          // after a broker loss would be retried against the wrong broker for ever
          // (@platformatic/kafka 2.12.1). With one partition per request every retry follows its
          // own leader. A single broker leads every partition, so there one request carries all.
          const meta = await producer.metadata({ topics: [topic] })
          const count = meta.topics.get(topic)?.partitionsCount ?? 1
          const split = meta.brokers.size > 1
          const requests = new Map<number, MessageToProduce<Buffer, Buffer, Buffer, Buffer>[]>()
          for (const m of messages) {
            const key = Buffer.from(m.key)
            const partition = keyPartition(key, count)
            const request = split ? partition : 0
            let group = requests.get(request)
            if (!group) requests.set(request, (group = []))
            group.push({
              topic,
              partition,
              key,
              value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
              headers: m.headers
                ? new Map(Object.entries(m.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]))
                : undefined,
            })
          }
          await Promise.all([...requests.values()].map((group) => producer.send({ messages: group })))
        },
        close,
      }
    },

    consumer(copts: ConsumerOptions): BusConsumer {
      return createKafkaConsumer(lasting, copts, warn, closers)
    },

    async ensureTopic(spec: TopicSpec): Promise<void> {
      await withAdmin(async (admin) => {
        const existing = await admin.listTopics()
        if (existing.includes(spec.name)) return
        try {
          await admin.createTopics({
            topics: [spec.name],
            partitions: spec.partitions,
            // -1: the broker's default.replication.factor (3 on the cluster, 1 on a single node).
            replicas: spec.replicas ?? -1,
            configs: spec.config
              ? Object.entries(spec.config).map(([name, value]) => ({ name, value }))
              : undefined,
          })
        } catch (err) {
          // Another process created it between the list and the create: the broker's
          // TOPIC_ALREADY_EXISTS sits inside the client's nested errors.
          if (!(err instanceof Error) || !findErrorBy(err, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw err
        }
      })
    },

    async endOffsets(topic: string): Promise<Map<number, bigint>> {
      return withAdmin(async (admin) => {
        const meta = await admin.metadata({ topics: [topic] })
        const count = meta.topics.get(topic)?.partitionsCount ?? 0
        const partitions = Array.from({ length: count }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: -1n,
        }))
        const res = await admin.listOffsets({ topics: [{ name: topic, partitions }] })
        const out = new Map<number, bigint>()
        for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, p.offset)
        return out
      })
    },

    async close(): Promise<void> {
      await Promise.allSettled([...closers].map((c) => c()))
    },
  }
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Leaves the group if the coordinator answers within 5 s, then closes the client's connections
 * whatever happened, so retry loops still running inside it end instead of living on.
 */
async function discard(c: Consumer<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
  await bounded(
    c.close(true).catch(() => {}),
    5000,
  )
  await bounded(new Promise<void>((r) => c.connections.close(() => r())), 5000)
}

/** The partition Kafka's default partitioner gives a key (murmur2, as the Java client). */
export function keyPartition(key: Buffer, partitions: number): number {
  return defaultPartitioner(undefined as never, key) % partitions
}

/** Exponential backoff from 100 ms to 5 s with full jitter. */
function backoff(_client: unknown, _operation: string, attempt: number): number {
  return Math.random() * Math.min(5000, 100 * 2 ** Math.min(attempt, 6))
}

function toBusMessage(m: RawMessage): BusMessage {
  const headers: Record<string, string> = {}
  for (const [k, v] of m.headers) headers[k.toString()] = v.toString()
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key ? m.key.toString() : '',
    value: m.value ?? Buffer.alloc(0),
    timestamp: Number(m.timestamp),
    headers,
  }
}

function createKafkaConsumer(
  base: { clientId: string; bootstrapBrokers: string[]; retries: boolean; retryDelay: typeof backoff },
  copts: ConsumerOptions,
  warn: (message: string, err: unknown) => void,
  closers: Set<() => Promise<void>>,
): BusConsumer {
  const maxBatch = copts.maxBatch ?? 5000
  const makeConsumer = (): Consumer<Buffer, Buffer, Buffer, Buffer> =>
    new Consumer({
      ...base,
      clientId: `${base.clientId}-consumer`,
      groupId: copts.groupId,
      maxWaitTime: 100,
      // Bytes per fetch (compressed): the client pushes whole fetch responses past its highWaterMark,
      // so this is what bounds the read-ahead in memory (about 15k trades of ~180 bytes with lz4).
      maxBytes: 512 * 1024,
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      // Heartbeats failing this long mean the client lost its group (see run()): it is replaced.
      heartbeatStallTimeout: 10_000,
    })
  let consumer = makeConsumer()
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  let closing = false
  let running: Promise<void> | undefined
  const stopping = new AbortController()
  const wakeSignal = stopping.signal
  const pendingCommits = new Set<Promise<void>>()

  // Stops after the batch in hand is handled and committed, then leaves the group. May be called
  // from inside the handler (without awaiting it there).
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => (closed ??= shutdown())
  const shutdown = async (): Promise<void> => {
    closing = true
    closers.delete(close)
    stopping.abort()
    await running?.catch(() => {})
    // A commit can hang on a dead coordinator; the offsets that matter are in PostgreSQL.
    await bounded(Promise.allSettled([...pendingCommits]), 10_000)
    if (stream && !stream.destroyed) await stream.close().catch(() => {})
    await discard(consumer)
  }
  closers.add(close)

  function commit(raw: RawMessage[]): void {
    const last = new Map<string, RawMessage>()
    for (const r of raw) last.set(`${r.topic}\0${r.partition}`, r)
    for (const r of last.values()) {
      const p = r.commit()
      if (!p) continue
      const tracked = p.catch((err: unknown) =>
        warn('offset commit failed; the batch will be re-read and skipped', err),
      )
      pendingCommits.add(tracked)
      void tracked.finally(() => pendingCommits.delete(tracked))
    }
  }

  async function loop(
    s: MessagesStream<Buffer, Buffer, Buffer, Buffer>,
    handler: BatchHandler,
  ): Promise<void> {
    // Flowing mode with explicit pause/resume: at most two batches wait in memory while the
    // handler (the database) works; reading with read()/'readable' stalled under that load.
    const buffer: RawMessage[] = []
    let failure: unknown
    let ended = false
    let wakeUp: (() => void) | undefined
    const wake = (): void => {
      const w = wakeUp
      wakeUp = undefined
      w?.()
    }
    s.on('data', (m: RawMessage) => {
      buffer.push(m)
      if (buffer.length >= maxBatch * 2) s.pause()
      if (buffer.length >= maxBatch) wake()
      else setImmediate(wake) // let the rest of this fetch arrive before a batch is cut
    })
    s.on('error', (err: unknown) => {
      failure = err
      wake()
    })
    s.on('close', () => {
      ended = true
      wake()
    })
    wakeSignal.addEventListener('abort', wake)
    // After a broker loss the client can keep its dead group coordinator and retry heartbeats and
    // commits against it for ever (@platformatic/kafka 2.12.1): such a consumer is replaced.
    const onStall = (info: { lastError?: unknown }): void => {
      failure ??= new ServiceError(
        'kafka',
        `Kafka consumer heartbeats stalled: ${errorMessage(info.lastError ?? 'no answer')}`,
      )
      wake()
    }
    consumer.on('consumer:heartbeat:stalled', onStall)
    try {
      while (!closing) {
        if (buffer.length === 0) {
          if (failure)
            throw new ServiceError('kafka', `Kafka consumer failed: ${errorMessage(failure)}`, {
              cause: failure,
            })
          if (ended) break
          await new Promise<void>((r) => (wakeUp = r))
          continue
        }
        const raw = buffer.splice(0, maxBatch)
        if (s.isPaused() && buffer.length < maxBatch) s.resume()
        await handler(raw.map(toBusMessage))
        // The batch is stored: advance the group. A failed commit only means re-reading; the
        // store skips what it already holds.
        commit(raw)
      }
    } finally {
      wakeSignal.removeEventListener('abort', wake)
      consumer.off('consumer:heartbeat:stalled', onStall)
    }
  }

  async function run(handler: BatchHandler): Promise<void> {
    // A consumer whose fetches fail for good (a broker died, leadership moved) is replaced by a new
    // one after a backoff: uncommitted messages are simply read again, and the store skips what it
    // already holds.
    for (let attempt = 0; !closing; attempt++) {
      try {
        stream = await consumer.consume({
          topics: copts.topics,
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          autocommit: false,
          highWaterMark: maxBatch * 2,
        })
        running = loop(stream, handler)
        await running
        if (closing) break
        throw new ServiceError('kafka', 'the Kafka consumer stream ended unexpectedly')
      } catch (err) {
        if (closing) break
        warn('Kafka consumer failed; reconnecting with a new consumer', err)
        await stream?.close().catch(() => {})
        await discard(consumer)
        await new Promise((r) => setTimeout(r, backoff(undefined, 'consume', attempt)))
        if (!closing) consumer = makeConsumer()
      }
    }
    // A close() requested by the handler finishes (commits flushed, group left) before run resolves.
    if (closed) await closed
  }

  return { run, close }
}
