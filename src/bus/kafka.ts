// The bus on Apache Kafka, through @platformatic/kafka (pure TypeScript; the measured choice is in
// docs/decisions/0001-kafka-client.md): topic administration here, the producer in
// kafka-producer.ts, the consumer in kafka-consumer.ts, and the workarounds for the client's own
// behaviours in kafka-workarounds.ts.
import { Admin, ConfigResourceTypes, findErrorBy } from '@platformatic/kafka'
import { ServiceError, errorMessage } from '../errors.ts'
import { brokerReason } from './kafka-errors.ts'
import { KafkaBusConsumer } from './kafka-consumer.ts'
import { KafkaBusProducer, type ClientBase } from './kafka-producer.ts'
import type { Bus, BusConsumer, BusProducer, ConsumerOptions, TopicSpec } from './types.ts'
import { backoffDelay } from '../util/backoff.ts'

export { keyPartition } from './kafka-producer.ts'

export interface KafkaBusOptions {
  brokers: string[]
  clientId?: string
  /** Called for non-fatal client problems (a failed offset commit, a retried fetch). */
  onWarning?: (message: string, err: unknown) => void
  /** How long a send waits for others to share its produce request (default 0: each goes alone; the commands pass TICKFLOW_PRODUCER_LINGER). */
  producerLingerMs?: number
}

const LATEST = -1n
const EARLIEST = -2n

export function createKafkaBus(options: KafkaBusOptions): Bus {
  const clientId = options.clientId ?? 'tickflow'
  const warn = options.onWarning ?? (() => {})
  const producerLingerMs = options.producerLingerMs ?? 0
  // Admin calls (topic creation, offsets) give up after ~10 s so start-up fails with a clear error;
  // the producer and consumer retry for ever with capped, jittered backoff so a broker restart
  // or a leader election mid-run only pauses them.
  const base = { clientId, bootstrapBrokers: options.brokers, retries: 10, retryDelay: 1000 }
  const lasting: ClientBase = { ...base, retries: true, retryDelay: backoff }
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

  /** Every partition's offset at `timestamp` (Kafka's ListOffsets: -1 latest, -2 earliest). */
  function listOffsets(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    return withAdmin(async (admin) => {
      const meta = await admin.metadata({ topics: [topic] })
      const count = meta.topics.get(topic)?.partitionsCount ?? 0
      const partitions = Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp }))
      const res = await admin.listOffsets({ topics: [{ name: topic, partitions }] })
      const out = new Map<number, bigint>()
      for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, p.offset)
      return out
    })
  }

  return {
    kind: 'kafka',
    producer(popts = {}): BusProducer {
      const producer: KafkaBusProducer = new KafkaBusProducer(lasting, () => closers.delete(close), {
        lingerMs: popts.lingerMs ?? producerLingerMs,
      })
      const close = (): Promise<void> => producer.close()
      closers.add(close)
      return producer
    },

    consumer(copts: ConsumerOptions): BusConsumer {
      const consumer: KafkaBusConsumer = new KafkaBusConsumer(lasting, copts, warn, () =>
        closers.delete(close),
      )
      const close = (): Promise<void> => consumer.close()
      closers.add(close)
      return consumer
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
          if (!(err instanceof Error) || !findErrorBy(err, 'apiId', 'TOPIC_ALREADY_EXISTS'))
            throw new Error(`creating topic ${spec.name} failed: ${brokerReason(err)}`, { cause: err })
        }
      })
    },

    async maxMessageBytes(topic: string): Promise<number | undefined> {
      return withAdmin(async (admin) => {
        const [described] = await admin.describeConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: topic,
              configurationKeys: ['max.message.bytes'],
            },
          ],
        })
        const value = described?.configs.find((c) => c.name === 'max.message.bytes')?.value
        return value ? Number(value) : undefined
      })
    },

    endOffsets: (topic: string): Promise<Map<number, bigint>> => listOffsets(topic, LATEST),
    startOffsets: (topic: string): Promise<Map<number, bigint>> => listOffsets(topic, EARLIEST),

    topicId: (topic: string): Promise<string | undefined> =>
      withAdmin(async (admin) => (await admin.metadata({ topics: [topic] })).topics.get(topic)?.id),

    forgetPositions: (groupId: string, topic: string): Promise<void> =>
      withAdmin(async (admin) => {
        const meta = await admin.metadata({ topics: [topic] })
        const count = meta.topics.get(topic)?.partitionsCount ?? 0
        const partitionIndexes = Array.from({ length: count }, (_, p) => p)
        await admin.deleteConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionIndexes }] })
      }),

    async close(): Promise<void> {
      await Promise.allSettled([...closers].map((c) => c()))
    },
  }
}

/** Exponential backoff from 100 ms to 5 s with full jitter. */
function backoff(_client: unknown, _operation: string, attempt: number): number {
  return backoffDelay({ initialMs: 100, maxMs: 5000, maxDoublings: 6, jitter: 'full' }, attempt)
}
