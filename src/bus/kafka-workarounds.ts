// Workarounds for behaviours of the Kafka client (@platformatic/kafka) that tickflow would
// otherwise hit: each names the client version it was seen with, what the client does, and the
// test that shows the behaviour still exists (test/bus/kafka-workarounds.test.ts). When a canary
// there fails after an upgrade, the client changed: re-check the behaviour and remove the
// workaround here and its use in kafka-producer.ts or kafka-consumer.ts.
import type { Consumer, Message } from '@platformatic/kafka'
import { ServiceError, errorMessage } from '../errors.ts'

/** The client version the workarounds were written against (package.json pins it exactly). */
export const CLIENT_VERSION = '2.12.1'

export interface Workaround {
  /** What the client does that tickflow must not suffer. */
  upstream: string
  /** What tickflow does about it. */
  workaround: string
  /** The canary test in test/bus/kafka-workarounds.test.ts. */
  canary: string
}

export const WORKAROUNDS = {
  producerRetryFollowsFirstLeader: {
    upstream:
      'A produce request is built per partition leader and retried against the leader of its first ' +
      'message only: after the leaders of its partitions moved to different brokers, the retry is ' +
      'refused with NOT_LEADER_OR_FOLLOWER for the others, for ever (retries: true).',
    workaround:
      'On a cluster (more than one broker), one send() per partition, so every retry follows its ' +
      "own partition's leader. One broker leads every partition, so there one request carries all.",
    canary: 'a produce retry goes to the first partition\u2019s leader only',
  },
  refetchAfterRebalance: {
    upstream:
      'After a rebalance the messages stream re-fetches each partition it keeps from the group\u2019s ' +
      'committed offset, handing out again messages it already delivered (commits trail delivery ' +
      'when the application commits after storing).',
    workaround:
      'RefetchFilter drops every message below the next offset already handed out for its ' +
      'partition, so a batch never holds a message twice.',
    canary: 'a kept partition is delivered again from the committed offset after a rebalance',
  },
  staleGroupCoordinator: {
    upstream:
      'After the broker that coordinates the group is lost, the consumer can keep the dead ' +
      'coordinator and retry heartbeats and commits against it for ever.',
    workaround:
      'heartbeatStallTimeout makes the client report the stall (consumer:heartbeat:stalled); the ' +
      'consumer is then closed and replaced by a new one, which looks the coordinator up afresh.',
    canary: 'the 3-broker scenario in test/faults/cluster.test.ts (needs a cluster)',
  },
} as const satisfies Record<string, Workaround>

// --- producerRetryFollowsFirstLeader ---------------------------------------------------------

/**
 * Groups messages (with their partitions set) into produce requests: one per partition when
 * `brokers` > 1, else one for all.
 */
export function produceRequests<M extends { partition?: number }>(messages: M[], brokers: number): M[][] {
  if (brokers <= 1) return [messages]
  const requests = new Map<number, M[]>()
  for (const m of messages) {
    const p = m.partition ?? 0
    let group = requests.get(p)
    if (!group) requests.set(p, (group = []))
    group.push(m)
  }
  return [...requests.values()]
}

// --- refetchAfterRebalance -------------------------------------------------------------------

/** Remembers the next offset handed out per partition; anything below it was seen already. */
export class RefetchFilter {
  readonly #next = new Map<string, bigint>()
  /** Messages dropped because they were already handed out. */
  dropped = 0

  accept(m: Pick<Message, 'topic' | 'partition' | 'offset'>): boolean {
    const key = `${m.topic}\0${m.partition}`
    const expected = this.#next.get(key)
    if (expected !== undefined && m.offset < expected) {
      this.dropped++
      return false
    }
    this.#next.set(key, m.offset + 1n)
    return true
  }
}

// --- staleGroupCoordinator -------------------------------------------------------------------

/** Consumer options that make the client report a stalled heartbeat after 10 s. */
export const STALL_OPTIONS = { heartbeatStallTimeout: 10_000 } as const

/**
 * Calls `onStall` with a ServiceError when the consumer's heartbeats stall (its coordinator is
 * gone); returns the function that stops watching.
 */
export function watchHeartbeatStall(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  onStall: (err: ServiceError) => void,
): () => void {
  const listener = (info: { lastError?: unknown }): void =>
    onStall(
      new ServiceError(
        'kafka',
        `Kafka consumer heartbeats stalled: ${errorMessage(info.lastError ?? 'no answer')}`,
      ),
    )
  consumer.on('consumer:heartbeat:stalled', listener)
  return () => consumer.off('consumer:heartbeat:stalled', listener)
}
