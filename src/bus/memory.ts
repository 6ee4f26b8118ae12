// The in-process bus of the embedded default: a partitioned, append-only log per topic with
// committed offsets per consumer group, mirroring what the processor relies on in Kafka (per-key
// order within a partition, commit after the handler, re-delivery of what was not committed).
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

interface Topic {
  partitions: BusMessage[][]
  /** Offset of partitions[p][0]: consumed and committed messages are trimmed from memory. */
  base: bigint[]
}

/** FNV-1a over the key: stable partitioning so one symbol stays in one partition. */
function partitionFor(key: string, n: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % n
}

export function createMemoryBus(): Bus {
  const topics = new Map<string, Topic>()
  const committed = new Map<string, bigint[]>() // `${group}\0${topic}` → next offset per partition
  const waiters = new Set<() => void>()
  const wake = (): void => {
    for (const w of waiters) w()
    waiters.clear()
  }

  function topicOf(name: string): Topic {
    let t = topics.get(name)
    if (!t) {
      t = { partitions: [[]], base: [0n] }
      topics.set(name, t)
    }
    return t
  }

  const bus: Bus = {
    kind: 'memory',
    producer(): BusProducer {
      return {
        send(topic: string, messages: OutMessage[]): Promise<void> {
          const t = topicOf(topic)
          const now = Date.now()
          for (const m of messages) {
            const p = partitionFor(m.key, t.partitions.length)
            const log = t.partitions[p]!
            log.push({
              topic,
              partition: p,
              offset: t.base[p]! + BigInt(log.length),
              key: m.key,
              value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
              timestamp: now,
              headers: m.headers ?? {},
            })
          }
          wake()
          return Promise.resolve()
        },
        close: () => Promise.resolve(),
      }
    },

    consumer(options: ConsumerOptions): BusConsumer {
      const maxBatch = options.maxBatch ?? 5000
      let closed = false
      return {
        async run(handler: BatchHandler): Promise<void> {
          while (!closed) {
            const batch: BusMessage[] = []
            for (const name of options.topics) {
              const t = topicOf(name)
              const key = `${options.groupId}\0${name}`
              const next = committed.get(key) ?? t.base.slice()
              committed.set(key, next)
              t.partitions.forEach((log, p) => {
                const from = Number(next[p]! - t.base[p]!)
                for (let i = from; i < log.length && batch.length < maxBatch; i++) batch.push(log[i]!)
              })
            }
            if (batch.length === 0) {
              await new Promise<void>((resolve) => waiters.add(resolve))
              continue
            }
            await handler(batch)
            for (const m of batch) {
              const next = committed.get(`${options.groupId}\0${m.topic}`)!
              if (next[m.partition]! <= m.offset) next[m.partition] = m.offset + 1n
            }
            trim()
          }
        },
        close(): Promise<void> {
          closed = true
          wake()
          return Promise.resolve()
        },
      }
    },

    ensureTopic(spec: TopicSpec): Promise<void> {
      if (!topics.has(spec.name)) {
        topics.set(spec.name, {
          partitions: Array.from({ length: spec.partitions }, () => []),
          base: Array.from({ length: spec.partitions }, (_, p) => spec.startOffsets?.get(p) ?? 0n),
        })
      }
      return Promise.resolve()
    },

    maxMessageBytes(): Promise<number | undefined> {
      return Promise.resolve(undefined)
    },

    endOffsets(topic: string): Promise<Map<number, bigint>> {
      const t = topicOf(topic)
      return Promise.resolve(new Map(t.partitions.map((log, p) => [p, t.base[p]! + BigInt(log.length)])))
    },

    close(): Promise<void> {
      wake()
      return Promise.resolve()
    },
  }

  /** Drops messages every group has committed, so a long embedded run does not grow without bound. */
  function trim(): void {
    for (const [name, t] of topics) {
      const groups = [...committed].filter(([k]) => k.endsWith(`\0${name}`)).map(([, v]) => v)
      if (groups.length === 0) continue
      t.partitions.forEach((log, p) => {
        const min = groups.reduce((a, g) => (g[p]! < a ? g[p]! : a), groups[0]![p]!)
        const drop = Number(min - t.base[p]!)
        if (drop > 0) {
          log.splice(0, drop)
          t.base[p] = min
        }
      })
    }
  }

  return bus
}
