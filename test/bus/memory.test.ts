// The in-process bus of the embedded default: a producer faster than its consumer waits instead of
// filling memory, every message still arrives once and in order, and the consumer is shown the
// next batch while it handles the current one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMemoryBus } from '../../src/bus/memory.ts'
import type { BusMessage } from '../../src/bus/types.ts'

const messages = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: 'K', value: String(from + i) }))

test('a producer ahead of its consumer by more than maxBacklog waits; nothing is lost or repeated', async () => {
  const bus = createMemoryBus({ maxBacklog: 100 })
  await bus.ensureTopic({ name: 't', partitions: 1 })
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => (release = r))
  const seen: string[] = []
  let held = 0
  const consumer = bus.consumer({ groupId: 'g', topics: ['t'], maxBatch: 40 })
  const done = consumer.run(async (batch) => {
    await gate
    for (const m of batch) seen.push(m.value.toString())
  })
  const producer = bus.producer()
  const acked: number[] = []
  const producing = (async () => {
    for (let i = 0; i < 10; i++) {
      await producer.send('t', messages(i * 30, 30))
      acked.push(i)
      const end = await bus.endOffsets('t')
      held = Math.max(held, Number(end.get(0)!) - seen.length)
    }
  })()
  await new Promise((r) => setTimeout(r, 50))
  // The consumer is stuck on its first batch: the fourth send (120 held) is not acknowledged.
  assert.deepEqual(acked, [0, 1, 2])
  release()
  await producing
  await new Promise((r) => setTimeout(r, 50))
  await consumer.close()
  await done
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, i) => String(i)),
  )
  assert.ok(held <= 130, `${held} messages held at once`)
})

test('a topic nobody consumes never makes a send wait', async () => {
  const bus = createMemoryBus({ maxBacklog: 10 })
  await bus.ensureTopic({ name: 't', partitions: 2 })
  await bus.producer().send('t', messages(0, 500))
  const end = await bus.endOffsets('t')
  assert.equal(
    [...end.values()].reduce((a, b) => a + b, 0n),
    500n,
  )
})

test('closing the bus frees the producers waiting for room', async () => {
  const bus = createMemoryBus({ maxBacklog: 5 })
  await bus.ensureTopic({ name: 't', partitions: 1 })
  const consumer = bus.consumer({ groupId: 'g', topics: ['t'], maxBatch: 2 })
  const done = consumer.run(() => new Promise<void>(() => {})) // never finishes its batch
  const sent = bus.producer().send('t', messages(0, 20))
  await new Promise((r) => setTimeout(r, 20))
  let settled = false
  void sent.then(() => (settled = true))
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(settled, false)
  await bus.close()
  await sent
  void consumer.close()
  void done
})

test('the consumer is shown each next batch before handling the current one', async () => {
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 't', partitions: 3 })
  await bus.producer().send(
    't',
    Array.from({ length: 95 }, (_, i) => ({ key: `K${i % 7}`, value: String(i) })),
  )
  const offsets = (ms: readonly BusMessage[]) => ms.map((m) => `${m.partition}:${m.offset}`)
  const batches: string[][] = []
  const shown: string[][] = []
  const consumer = bus.consumer({ groupId: 'g', topics: ['t'], maxBatch: 20 })
  const done = consumer.run(
    (batch) => {
      batches.push(offsets(batch))
      if (batches.length === 5) void consumer.close()
      return Promise.resolve()
    },
    (next) => shown.push(offsets(next)),
  )
  await done
  assert.equal(batches.flat().length, 95)
  assert.equal(new Set(batches.flat()).size, 95)
  // Every batch after the first was shown, exactly as it came; the last batch had no successor.
  assert.deepEqual(shown, batches.slice(1))
})

test('messages appended while a batch is handled are shown again: the last look-ahead is the next batch', async () => {
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 't', partitions: 3 })
  const producer = bus.producer()
  const send = (from: number, n: number) =>
    producer.send(
      't',
      Array.from({ length: n }, (_, i) => ({ key: `K${(from + i) % 7}`, value: String(from + i) })),
    )
  await send(0, 30)
  const offsets = (ms: readonly BusMessage[]) => ms.map((m) => `${m.partition}:${m.offset}`)
  const batches: string[][] = []
  /** What was shown before and while each batch was handled. */
  const shown: string[][][] = [[]]
  let release: () => void = () => {}
  const consumer = bus.consumer({ groupId: 'g', topics: ['t'], maxBatch: 20 })
  const done = consumer.run(
    async (batch) => {
      batches.push(offsets(batch))
      if (batches.length === 1) await new Promise<void>((r) => (release = r))
      if (batches.length === 3) void consumer.close()
      shown.push([])
    },
    (next) => shown.at(-1)!.push(offsets(next)),
  )
  await new Promise((r) => setImmediate(r))
  // While the first batch is handled, 25 more arrive in every partition: the next batch changes.
  await send(30, 25)
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  release()
  await done
  assert.equal(batches.flat().length, 55)
  assert.equal(new Set(batches.flat()).size, 55)
  // Shown while the first batch was handled: the 10 left at its start, then the changed batch.
  assert.equal(shown[0]![0]!.length, 10)
  assert.ok(shown[0]!.length >= 2, `shown ${shown[0]!.length} time(s)`)
  assert.deepEqual(shown[0]!.at(-1), batches[1])
  assert.deepEqual(shown[1]!.at(-1), batches[2])
})
