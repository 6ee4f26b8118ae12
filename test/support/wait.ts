// Waiting on a condition instead of on the clock: tests poll what they wait for (a group joined, rows
// stored, a leader moved) and fail naming it when it does not come.
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { createKafkaBus } from '../../src/bus/kafka.ts'

/**
 * Polls `check` every `everyMs` until it returns something other than undefined or false, and
 * returns that; throws `timed out after … waiting for <what>` when `timeoutMs` passes first.
 * `what` may be a function, to describe the state seen last.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string | (() => string),
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await check()
    if (got !== undefined && got !== false) return got
    if (Date.now() >= deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      )
    await sleep(everyMs)
  }
}

/**
 * Waits until the consumer group is stable with `members` members, `holding` of them (all by
 * default) holding partitions of `topic` (the processors started have joined and been assigned
 * their share).
 */
export async function waitGroupMembers(
  brokers: string[],
  group: string,
  topic: string,
  members: number,
  timeoutMs = 60_000,
  why: () => string = () => '',
  holding = members,
): Promise<void> {
  let seen = 'no answer'
  await waitFor(
    async () => {
      const admin = new Admin({ clientId: 'test-wait', bootstrapBrokers: brokers, retries: 0 })
      try {
        const g = (await admin.describeGroups({ groups: [group] })).get(group)
        const held = [...(g?.members.values() ?? [])].filter(
          (m) => (m.assignments?.get(topic)?.partitions.length ?? 0) > 0,
        ).length
        seen = `${g?.state ?? 'no group'}, ${held} of ${g?.members.size ?? 0} members holding partitions`
        return /^stable$/i.test(g?.state ?? '') && held === holding && g?.members.size === members
      } catch (err) {
        seen = err instanceof Error ? err.message : String(err)
        return false
      } finally {
        await admin.close()
      }
    },
    timeoutMs,
    () => `group ${group} to have ${members} members holding partitions of ${topic} (${seen}) ${why()}`,
    250,
  )
}

/** Waits until the topic holds at least `count` messages (summed over its partitions). */
export async function waitProduced(
  brokers: string[],
  topic: string,
  count: number,
  timeoutMs = 60_000,
  why: () => string = () => '',
): Promise<void> {
  const bus = createKafkaBus({ brokers })
  let seen = 0n
  try {
    await waitFor(
      async () => {
        const ends = await bus.endOffsets(topic).catch(() => new Map<number, bigint>())
        seen = [...ends.values()].reduce((a, b) => a + b, 0n)
        return seen >= BigInt(count)
      },
      timeoutMs,
      () => `${count} messages in ${topic} (have ${seen}) ${why()}`,
      100,
    )
  } finally {
    await bus.close()
  }
}
