// "Has the processor stored everything the topic holds?": the one definition, used by `tickflow up`
// and `replay` before they report, by the tests' scenarios and by the benchmark.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Bus } from '../bus/types.ts'
import type { Db } from '../store/db.ts'
import { storedOffsets } from '../store/ticks.ts'

/** True when the group's stored offsets reach the given end offsets on every partition. */
export async function isCaughtUp(
  db: Db,
  group: string,
  topic: string,
  end: Map<number, bigint>,
): Promise<boolean> {
  const stored = await storedOffsets(db, group, topic)
  return [...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)
}

export interface CaughtUpOptions {
  timeoutMs: number
  /** Polling interval (default 100 ms). */
  everyMs?: number
  /** Fixed end offsets; default: the topic's end offsets read once at the start. */
  end?: Map<number, bigint>
  /** Called on each poll that is not caught up yet (e.g. to sample memory). */
  onPoll?: () => void
  signal?: AbortSignal
}

/** Waits until the group has stored the topic's end offsets; false when the timeout passes first. */
export async function waitCaughtUp(
  bus: Bus,
  db: Db,
  group: string,
  topic: string,
  o: CaughtUpOptions,
): Promise<boolean> {
  const end = o.end ?? (await bus.endOffsets(topic))
  const deadline = Date.now() + o.timeoutMs
  for (;;) {
    o.onPoll?.()
    if (await isCaughtUp(db, group, topic, end).catch(() => false)) return true
    if (Date.now() >= deadline || o.signal?.aborted) return false
    await sleep(o.everyMs ?? 100)
  }
}
