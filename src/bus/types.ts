// The project's own bus interface. The processor and producers see only this; the Kafka client
// (bus/kafka.ts) and the in-process bus (bus/memory.ts) implement it, so the client library can be
// swapped without touching the pipeline.

export interface OutMessage {
  key: string
  value: Buffer | string
  headers?: Record<string, string>
}

export interface BusMessage {
  topic: string
  partition: number
  offset: bigint
  /** null when the producer sent none (Kafka allows it; tickflow's producers always set the symbol). */
  key: string | null
  value: Buffer
  /** Broker (or append) timestamp in ms since the epoch. */
  timestamp: number
  headers: Record<string, string>
}

export interface BusProducer {
  /** Resolves when every message is acknowledged by the bus (acks=all on Kafka). */
  send(topic: string, messages: OutMessage[]): Promise<void>
  /** Sends what lingers at once: the caller is about to wait on its sends and adds none meanwhile. */
  flush?(): void
  close(): Promise<void>
}

/**
 * Handles one batch from one partition. The consumer commits the batch's offsets only after the
 * returned promise resolves, so a handler that stores the batch first gives at-least-once delivery;
 * the store's own offset table turns that into exactly-once effect.
 */
export type BatchHandler = (batch: BusMessage[]) => Promise<void>

/**
 * Shown the messages that will most likely make the next batch, while the current one is handled,
 * so work that depends only on the messages (decoding, validation) can be done meanwhile. Advice
 * only: the next batch may differ, and the handler must not rely on having seen them.
 */
export type AheadHandler = (next: readonly BusMessage[]) => void

export interface BusConsumer {
  /**
   * Runs until close(); rejects if consumption fails for good. A bus that can look ahead shows the
   * next messages to `ahead` while each handler call runs (the in-process bus does; Kafka does when
   * a whole batch is already read, and that batch is then exactly the next one handed out).
   */
  run(handler: BatchHandler, ahead?: AheadHandler): Promise<void>
  close(): Promise<void>
}

export interface ConsumerOptions {
  groupId: string
  topics: string[]
  /** Upper bound of messages handed to one handler call. */
  maxBatch?: number
  /**
   * Kafka: how long a batch that is not full waits for more messages after its first one arrived
   * (default 0: handed out as soon as the handler is free).
   */
  lingerMs?: number
}

export interface TopicSpec {
  name: string
  partitions: number
  replicas?: number
  config?: Record<string, string>
  /**
   * In-process bus only: the offset each partition starts at. The embedded pipeline continues from
   * the offsets its database holds, since an in-process log does not outlive the process.
   */
  startOffsets?: Map<number, bigint>
}

export interface Bus {
  readonly kind: 'kafka' | 'memory'
  /**
   * A producer. On Kafka its sends within `lingerMs` share one produce request (default: the
   * bus's linger); a producer whose caller waits on each send alone (the processor's dead letters)
   * asks for 0.
   */
  producer(options?: { lingerMs?: number }): BusProducer
  consumer(options: ConsumerOptions): BusConsumer
  ensureTopic(spec: TopicSpec): Promise<void>
  /** The largest message the topic accepts (its max.message.bytes); undefined = no such limit. */
  maxMessageBytes(topic: string): Promise<number | undefined>
  /** End offsets (next offset to be written) per partition. */
  endOffsets(topic: string): Promise<Map<number, bigint>>
  /** Start offsets (the first offset still held; retention deletes below it) per partition. */
  startOffsets(topic: string): Promise<Map<number, bigint>>
  /**
   * Kafka's id of the topic's current incarnation (a topic deleted and created again gets a new
   * one); undefined where there is none (the in-process bus) or the topic does not exist.
   */
  topicId(topic: string): Promise<string | undefined>
  /** Forgets the group's committed positions in the topic (Kafka's own, not the store's). */
  forgetPositions(groupId: string, topic: string): Promise<void>
  close(): Promise<void>
}
