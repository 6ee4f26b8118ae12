// The bus producer on Kafka: idempotent, acks=all, lz4, a message's partition from its key as
// Kafka's default partitioner gives it. The topic layout (partition count, number of brokers) is
// kept per topic and follows the client's own metadata refreshes, so a send asks for metadata only
// for a topic it has not seen or after a failed send.
import {
  ProduceAcks,
  Producer,
  defaultPartitioner,
  type ClusterMetadata,
  type MessageToProduce,
} from '@platformatic/kafka'
import { ServiceError } from '../errors.ts'
import { brokerReason, isMessageRejection } from './kafka-errors.ts'
import { produceRequests } from './kafka-workarounds.ts'
import type { BusProducer, OutMessage } from './types.ts'

type Produced = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

interface Pending {
  messages: Produced[]
  brokers: number
  done: PromiseWithResolvers<void>
  timer?: NodeJS.Timeout
}

/** A linger ends early once it holds this many messages. */
const LINGER_FLUSH_MESSAGES = 5000

export interface ClientBase {
  clientId: string
  bootstrapBrokers: string[]
  retries: boolean
  retryDelay: (client: unknown, operation: string, attempt: number) => number
}

interface Layout {
  partitions: number
  brokers: number
}

/** The partition Kafka's default partitioner gives a key (murmur2, as the Java client). */
export function keyPartition(key: Buffer, partitions: number): number {
  return defaultPartitioner(undefined as never, key) % partitions
}

export class KafkaBusProducer implements BusProducer {
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #layouts = new Map<string, Layout>()
  readonly #onClose: () => void
  /** Metadata requests made by send() (the client refreshes on its own besides). */
  metadataLookups = 0

  readonly #lingerMs: number
  /** Sends waiting for the linger, per topic: one produce request set when it ends. */
  readonly #pending = new Map<string, Pending>()
  /** Sends started so far, and the last one started before a flush(): it goes without lingering. */
  #sent = 0
  #flushedUpTo = 0

  constructor(base: ClientBase, onClose: () => void, options: { lingerMs?: number } = {}) {
    this.#onClose = onClose
    this.#lingerMs = options.lingerMs ?? 0
    this.#producer = new Producer({
      ...base,
      clientId: `${base.clientId}-producer`,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: 'lz4',
    })
    // The client refreshes metadata when it finds it stale or old (5 s): follow it.
    this.#producer.on('client:metadata', (meta: ClusterMetadata) => {
      for (const topic of this.#layouts.keys()) this.#learn(topic, meta)
    })
  }

  async send(topic: string, messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return
    const seq = ++this.#sent
    const layout = this.#layouts.get(topic) ?? (await this.#lookUp(topic))
    const produced: Produced[] = messages.map((m) => {
      const key = Buffer.from(m.key)
      return {
        topic,
        partition: keyPartition(key, layout.partitions),
        key,
        value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
        headers: m.headers
          ? new Map(Object.entries(m.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]))
          : undefined,
      }
    })
    if (this.#lingerMs === 0) return this.#produce(topic, produced, layout.brokers)
    let pending = this.#pending.get(topic)
    if (!pending) {
      const p: Pending = { messages: [], brokers: layout.brokers, done: Promise.withResolvers<void>() }
      p.timer = setTimeout(() => void this.#flush(topic, p), this.#lingerMs)
      this.#pending.set(topic, (pending = p))
    }
    for (const m of produced) pending.messages.push(m)
    const done = pending.done.promise
    // Full, or started before a flush() (its metadata was still being looked up then).
    if (pending.messages.length >= LINGER_FLUSH_MESSAGES || seq <= this.#flushedUpTo)
      void this.#flush(topic, pending)
    return done
  }

  flush(): void {
    this.#flushedUpTo = this.#sent
    for (const [topic, p] of this.#pending) void this.#flush(topic, p)
  }

  /** Ends a linger: its messages go out as one send per broker, and every send in it settles. */
  async #flush(topic: string, p: Pending): Promise<void> {
    if (this.#pending.get(topic) !== p) return
    this.#pending.delete(topic)
    clearTimeout(p.timer)
    try {
      await this.#produce(topic, p.messages, p.brokers)
      p.done.resolve()
    } catch (err) {
      p.done.reject(err)
    }
  }

  async #produce(topic: string, produced: Produced[], brokers: number): Promise<void> {
    try {
      await Promise.all(
        produceRequests(produced, brokers).map((group) => this.#producer.send({ messages: group })),
      )
    } catch (err) {
      // The layout may be what changed (partitions added, a broker gone): look it up again.
      this.#layouts.delete(topic)
      // A refusal of the messages themselves is final for these messages; anything else
      // (an unreachable broker, a timeout) may pass on a retry.
      throw new ServiceError('kafka', `producing to ${topic} failed: ${brokerReason(err)}`, {
        cause: err,
        retryable: !isMessageRejection(err),
      })
    }
  }

  async close(): Promise<void> {
    this.#onClose()
    // #flush settles its sends and never rejects itself.
    await Promise.all([...this.#pending].map(([topic, p]) => this.#flush(topic, p)))
    await this.#producer.close()
  }

  async #lookUp(topic: string): Promise<Layout> {
    this.metadataLookups++
    const meta = await this.#producer.metadata({ topics: [topic] })
    return this.#learn(topic, meta) ?? { partitions: 1, brokers: meta.brokers.size }
  }

  #learn(topic: string, meta: ClusterMetadata): Layout | undefined {
    const t = meta.topics.get(topic)
    // A topic answered without partitions (its leader was just lost) says nothing new.
    if (!t || t.partitionsCount < 1) return undefined
    const layout = { partitions: t.partitionsCount, brokers: meta.brokers.size }
    this.#layouts.set(topic, layout)
    return layout
  }
}
