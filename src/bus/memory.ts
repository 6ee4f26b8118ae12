// The in-process bus of the embedded default: a partitioned, append-only log per topic with
// committed offsets per consumer group, mirroring what the processor relies on in Kafka (per-key
// order within a partition, commit after the handler, re-delivery of what was not committed).
import { sameOrder } from '../util/same-order.ts'
import type {
  AheadHandler,
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

/**
 * A batch as runs of one partition (take() builds it partition by partition): per run its
 * message count and last offset, so the bookkeeping of a batch of 20,000 makes a key per run, not
 * per message.
 */
function runsOf(
  batch: readonly BusMessage[],
): { topic: string; partition: number; count: number; last: bigint }[] {
  const runs: { topic: string; partition: number; count: number; last: bigint }[] = []
  let run: (typeof runs)[number] | undefined
  for (const m of batch) {
    if (run?.partition !== m.partition || run.topic !== m.topic)
      runs.push((run = { topic: m.topic, partition: m.partition, count: 0, last: m.offset }))
    run.count++
    if (m.offset > run.last) run.last = m.offset
  }
  return runs
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

export interface MemoryBusOptions {
  /**
   * Messages a topic may hold that a consuming group has not committed yet before a send waits for
   * the consumers (default 20,000): a source faster than the processor then slows down instead of
   * filling memory with its backlog, as a broker's acknowledgements slow a Kafka producer. A topic
   * no group consumes yet never makes a send wait.
   */
  maxBacklog?: number
}

export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  const maxBacklog = options.maxBacklog ?? 20_000
  const topics = new Map<string, Topic>()
  const committed = new Map<string, bigint[]>() // `${group}\0${topic}` → next offset per partition
  const waiters = new Set<() => void>()
  /** Consumers handling a batch, told when messages were appended (to show them ahead). */
  const appendListeners = new Set<() => void>()
  const wake = (): void => {
    for (const w of waiters) w()
    waiters.clear()
    for (const l of appendListeners) l()
  }
  /** Sends waiting for room, woken whenever consumers commit (and when the bus closes). */
  const roomWaiters = new Set<() => void>()
  let busClosed = false
  // Woken on a later turn of the event loop, not at once: the consumer that made room sends its
  // next batch's first statement before the producer's source reads on.
  const wakeSenders = (): void => {
    if (roomWaiters.size === 0) return
    const woken = [...roomWaiters]
    roomWaiters.clear()
    setImmediate(() => {
      for (const w of woken) w()
    })
  }
  /** Running consumers per `${group}\0${topic}`: only their groups' progress makes room. */
  const running = new Map<string, number>()
  /** What the running groups still have to consume of a topic, or 0 when none runs. */
  function backlog(name: string, t: Topic): number {
    let most = 0
    for (const [key, n] of running) {
      if (n === 0 || !key.endsWith(`\0${name}`)) continue
      const next = committed.get(key)
      if (!next) continue
      let left = 0
      t.partitions.forEach((log, p) => (left += log.length - Number(next[p]! - t.base[p]!)))
      most = Math.max(most, left)
    }
    return most
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
        async send(topic: string, messages: OutMessage[]): Promise<void> {
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
          // Appended at once (so sends keep their order); acknowledged once the backlog has room,
          // and never before the event loop has turned: a source that reads faster than the
          // processor writes must not hold the thread while the processor's database replies wait.
          await new Promise<void>((resolve) => setImmediate(resolve))
          while (!busClosed && backlog(topic, t) > maxBacklog)
            await new Promise<void>((resolve) => roomWaiters.add(resolve))
        },
        close: () => Promise.resolve(),
      }
    },

    consumer(options: ConsumerOptions): BusConsumer {
      const maxBatch = options.maxBatch ?? 5000
      let closed = false
      return {
        async run(handler: BatchHandler, ahead?: AheadHandler): Promise<void> {
          const keys = options.topics.map((name) => `${options.groupId}\0${name}`)
          for (const k of keys) running.set(k, (running.get(k) ?? 0) + 1)
          try {
            await consume(handler, ahead)
          } finally {
            for (const k of keys) running.set(k, running.get(k)! - 1)
            wakeSenders()
          }
        },
        close(): Promise<void> {
          closed = true
          wake()
          return Promise.resolve()
        },
      }
      /** Up to maxBatch messages per batch, partition by partition from the group's next offsets. */
      function take(skip: Map<string, number>): BusMessage[] {
        const batch: BusMessage[] = []
        for (const name of options.topics) {
          const t = topicOf(name)
          const key = `${options.groupId}\0${name}`
          const next = committed.get(key) ?? t.base.slice()
          committed.set(key, next)
          t.partitions.forEach((log, p) => {
            const from = Number(next[p]! - t.base[p]!) + (skip.get(`${name}\0${p}`) ?? 0)
            for (let i = from; i < log.length && batch.length < maxBatch; i++) batch.push(log[i]!)
          })
        }
        return batch
      }
      async function consume(handler: BatchHandler, ahead?: AheadHandler): Promise<void> {
        const none = new Map<string, number>()
        // The batch after the one being handled, as take() will build it once that one is
        // committed: shown to `ahead` when the handler starts, and again (once per turn of the
        // event loop) when appended messages changed it.
        let taken: Map<string, number> | undefined
        let shown: BusMessage[] = []
        let showQueued = false
        const show = (): void => {
          showQueued = false
          if (!taken || !ahead) return
          const next = take(taken)
          if (next.length === 0 || sameOrder(next, shown)) return
          shown = next
          ahead(next)
        }
        const appended = (): void => {
          if (!taken || showQueued) return
          showQueued = true
          setImmediate(show)
        }
        if (ahead) appendListeners.add(appended)
        try {
          while (!closed) {
            const batch = take(none)
            if (batch.length === 0) {
              await new Promise<void>((resolve) => waiters.add(resolve))
              continue
            }
            const runs = runsOf(batch)
            if (ahead) {
              taken = new Map<string, number>()
              for (const run of runs) {
                const k = `${run.topic}\0${run.partition}`
                taken.set(k, (taken.get(k) ?? 0) + run.count)
              }
              show()
            }
            try {
              await handler(batch)
            } finally {
              taken = undefined
              shown = []
            }
            for (const run of runs) {
              const next = committed.get(`${options.groupId}\0${run.topic}`)!
              if (next[run.partition]! <= run.last) next[run.partition] = run.last + 1n
            }
            trim()
          }
        } finally {
          appendListeners.delete(appended)
        }
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

    topicId(): Promise<string | undefined> {
      return Promise.resolve(undefined)
    },

    forgetPositions(): Promise<void> {
      return Promise.resolve()
    },

    startOffsets(topic: string): Promise<Map<number, bigint>> {
      const t = topicOf(topic)
      return Promise.resolve(new Map(t.partitions.map((_, p) => [p, t.base[p]!])))
    },

    close(): Promise<void> {
      busClosed = true
      wake()
      wakeSenders()
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
    wakeSenders()
  }

  return bus
}
