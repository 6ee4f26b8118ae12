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

  constructor(base: ClientBase, onClose: () => void) {
    this.#onClose = onClose
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
    try {
      await Promise.all(
        produceRequests(produced, layout.brokers).map((group) => this.#producer.send({ messages: group })),
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
