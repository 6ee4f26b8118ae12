import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { tracingChannel } from 'node:diagnostics_channel'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import type { BusMessage } from '../../src/bus/types.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { Readable } from 'node:stream'
import { pino } from 'pino'
import { createMetrics } from '../../src/metrics/registry.ts'
import { pump } from '../../src/sources/pump.ts'
import { simulate } from '../../src/sources/simulator.ts'

test('messages produced to the real broker are read back exactly, in key order', async () => {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: 'test-bus' })
  const topic = uniqueTopic('bus')
  await bus.ensureTopic({ name: topic, partitions: 4 })
  const symbols = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA']
  const total = 20_000
  const sent = createHash('sha256')
  const producer = bus.producer()
  for (let i = 0; i < total; i += 1000) {
    const batch = []
    for (let j = i; j < i + 1000; j++) {
      const key = symbols[j % symbols.length]!
      batch.push({ key, value: JSON.stringify({ key, seq: j }), headers: { n: String(j) } })
    }
    await producer.send(topic, batch)
  }
  const end = await bus.endOffsets(topic)
  assert.equal(
    [...end.values()].reduce((a, b) => a + b, 0n),
    BigInt(total),
  )

  const received: BusMessage[] = []
  const consumer = bus.consumer({ groupId: `g-${topic}`, topics: [topic], maxBatch: 3000 })
  const done = consumer.run((batch) => {
    received.push(...batch)
    if (received.length >= total) void consumer.close()
    return Promise.resolve()
  })
  await done
  assert.equal(received.length, total)
  // Same multiset of payloads: sort by seq and hash.
  const bySeq = received
    .map((m) => JSON.parse(m.value.toString()) as { key: string; seq: number })
    .sort((a, b) => a.seq - b.seq)
  for (const p of bySeq) sent.update(`${p.key}:${p.seq};`)
  const expected = createHash('sha256')
  for (let j = 0; j < total; j++) expected.update(`${symbols[j % symbols.length]}:${j};`)
  assert.equal(sent.digest('hex'), expected.digest('hex'))
  // Key = symbol: each symbol lives in one partition, in production order.
  const partitionOf = new Map<string, number>()
  const lastSeq = new Map<string, number>()
  for (const m of received) {
    assert.ok(m.key !== null, 'every message keeps its key')
    const p = partitionOf.get(m.key)
    if (p === undefined) partitionOf.set(m.key, m.partition)
    else assert.equal(m.partition, p, `${m.key} moved partition`)
    const seq = (JSON.parse(m.value.toString()) as { seq: number }).seq
    assert.ok(seq > (lastSeq.get(m.key) ?? -1), `${m.key} out of order`)
    lastSeq.set(m.key, seq)
    assert.equal(m.headers.n, String(seq))
  }
  await bus.close()
})

test('a consumer group resumes after the last committed batch', async () => {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: 'test-bus-resume' })
  const topic = uniqueTopic('resume')
  await bus.ensureTopic({ name: topic, partitions: 1 })
  const producer = bus.producer()
  await producer.send(
    topic,
    Array.from({ length: 100 }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  const group = `g-${topic}`
  const first: number[] = []
  const c1 = bus.consumer({ groupId: group, topics: [topic], maxBatch: 40 })
  await c1.run((batch) => {
    first.push(...batch.map((m) => Number(m.value.toString())))
    void c1.close()
    return Promise.resolve()
  })
  assert.deepEqual(
    first,
    Array.from({ length: 40 }, (_, i) => i),
  )
  const rest: number[] = []
  const c2 = bus.consumer({ groupId: group, topics: [topic], maxBatch: 1000 })
  // The first consumer's commit is asynchronous; the second may re-read a committed batch only if
  // the commit was lost, which would show here as a repeated 0..39.
  await c2.run((batch) => {
    rest.push(...batch.map((m) => Number(m.value.toString())))
    if (rest.at(-1) === 99) void c2.close()
    return Promise.resolve()
  })
  assert.deepEqual(
    rest,
    Array.from({ length: 60 }, (_, i) => i + 40),
  )
  await bus.close()
})

test('a whole batch already read is shown ahead and is exactly the next batch; a close leaves it uncommitted', async () => {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: 'test-bus-ahead' })
  const topic = uniqueTopic('ahead')
  await bus.ensureTopic({ name: topic, partitions: 1 })
  const producer = bus.producer()
  const N = 6000
  await producer.send(
    topic,
    Array.from({ length: N }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  const group = `g-${topic}`
  const handed: BusMessage[][] = []
  const shown: { before: number; messages: readonly BusMessage[] }[] = []
  const c1 = bus.consumer({ groupId: group, topics: [topic], maxBatch: 500 })
  await c1.run(
    async (batch) => {
      handed.push(batch)
      // As the database would: the next batches arrive while this one is written.
      await new Promise((r) => setTimeout(r, 40))
      if (batch.at(-1)!.value.toString() === String(N - 1)) void c1.close()
    },
    (next) => shown.push({ before: handed.length, messages: next }),
  )
  const values = handed.flat().map((m) => Number(m.value.toString()))
  assert.deepEqual(
    values,
    Array.from({ length: N }, (_, i) => i),
  )
  assert.ok(shown.length >= 5, `shown ahead ${shown.length} times in ${handed.length} batches`)
  for (const s of shown) {
    // Shown while batch `before` was handled: the very next batch, message for message.
    assert.equal(s.messages.length, 500)
    const next = handed[s.before]
    assert.ok(next, `a batch shown after batch ${s.before} was never handed out`)
    assert.equal(next.length, s.messages.length)
    assert.ok(
      next.every((m, i) => m === s.messages[i]),
      `batch ${s.before} differs from what was shown`,
    )
  }

  // A consumer closed while a batch is cut ahead: that batch was never handled, so it is not
  // committed, and the group resumes with it.
  const topic2 = uniqueTopic('ahead-close')
  await bus.ensureTopic({ name: topic2, partitions: 1 })
  await producer.send(
    topic2,
    Array.from({ length: 3000 }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  let cutAhead = 0
  let handledUpTo = -1
  const c2 = bus.consumer({ groupId: `g-${topic2}`, topics: [topic2], maxBatch: 500 })
  await c2.run(
    async (batch) => {
      await new Promise((r) => setTimeout(r, 40))
      handledUpTo = Number(batch.at(-1)!.value.toString())
      if (cutAhead > 0 && handledUpTo >= 999) void c2.close()
    },
    () => cutAhead++,
  )
  assert.ok(cutAhead > 0 && handledUpTo >= 999 && handledUpTo < 2999, `handled up to ${handledUpTo}`)
  const after: number[] = []
  const c3 = bus.consumer({ groupId: `g-${topic2}`, topics: [topic2], maxBatch: 5000 })
  await c3.run((batch) => {
    after.push(...batch.map((m) => Number(m.value.toString())))
    if (after.at(-1) === 2999) void c3.close()
    return Promise.resolve()
  })
  assert.deepEqual(
    after,
    Array.from({ length: 2999 - handledUpTo }, (_, i) => handledUpTo + 1 + i),
  )
  await bus.close()
})

test('handled batches are committed to the group at most once a second, and the last ones at a close', async () => {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: 'test-bus-commits' })
  const topic = uniqueTopic('commits')
  await bus.ensureTopic({ name: topic, partitions: 1 })
  const producer = bus.producer()
  const N = 3000
  await producer.send(
    topic,
    Array.from({ length: N }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  const group = `g-${topic}`
  let batches = 0
  let handled = 0
  const started = performance.now()
  const c1 = bus.consumer({ groupId: group, topics: [topic], maxBatch: 30 })
  // OffsetCommit requests (API key 8) as the client sends them.
  const commits = await countRequests(8, () =>
    c1.run(async (batch) => {
      batches++
      handled += batch.length
      await new Promise((r) => setTimeout(r, 5))
      if (handled === N) void c1.close()
    }),
  )
  const seconds = (performance.now() - started) / 1000
  assert.equal(batches, N / 30)
  // One per started second at most, and the close's.
  assert.ok(
    commits >= 1 && commits <= Math.ceil(seconds) + 1,
    `${commits} commits for ${batches} batches in ${seconds.toFixed(1)} s`,
  )
  // The close committed the last batch: the group goes on after it.
  await producer.send(topic, [{ key: 'K', value: 'after' }])
  const next: string[] = []
  const c2 = bus.consumer({ groupId: group, topics: [topic], maxBatch: 1000 })
  await c2.run((batch) => {
    next.push(...batch.map((m) => m.value.toString()))
    void c2.close()
    return Promise.resolve()
  })
  assert.deepEqual(next, ['after'])
  await bus.close()
})

test('a full batch is handed out at once whatever the linger', async () => {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: 'test-bus-linger' })
  const topic = uniqueTopic('linger-full')
  await bus.ensureTopic({ name: topic, partitions: 1 })
  await bus.producer().send(
    topic,
    Array.from({ length: 100 }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  const sizes: number[] = []
  const c = bus.consumer({ groupId: `g-${topic}`, topics: [topic], maxBatch: 50, lingerMs: 600_000 })
  const running = c.run((batch) => {
    sizes.push(batch.length)
    if (sizes.length === 2) void c.close()
    return Promise.resolve()
  })
  const deadline = new Promise<'waited'>((r) => setTimeout(() => r('waited'), 30_000).unref())
  const outcome = await Promise.race([running.then(() => 'handed' as const), deadline])
  if (outcome === 'waited') await c.close()
  assert.equal(outcome, 'handed', `batches handed out: ${JSON.stringify(sizes)}`)
  assert.deepEqual(sizes, [50, 50])
  await bus.close()
})

test('processes racing to create the same topic all succeed, and it is created once', async () => {
  const topic = uniqueTopic('race')
  const buses = Array.from({ length: 6 }, (_, i) =>
    createKafkaBus({ brokers: testBrokers(), clientId: `race-${i}` }),
  )
  try {
    const results = await Promise.allSettled(buses.map((b) => b.ensureTopic({ name: topic, partitions: 3 })))
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')),
      Array(6).fill('ok'),
    )
    assert.deepEqual([...(await buses[0]!.endOffsets(topic)).keys()].sort(), [0, 1, 2])
  } finally {
    await Promise.all(buses.map((b) => b.close()))
  }
})

/** Counts the Kafka requests of one API key the clients of this process send while `fn` runs. */
async function countRequests(apiKey: number, fn: () => Promise<void>): Promise<number> {
  let n = 0
  const requests = tracingChannel<unknown, { apiKey?: number }>('plt:kafka:connections:api')
  const counter = {
    start: (m: { apiKey?: number }) => void (m.apiKey === apiKey && n++),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: () => {},
    error: () => {},
  }
  requests.subscribe(counter)
  try {
    await fn()
  } finally {
    requests.unsubscribe(counter)
  }
  return n
}

async function readAll(bus: ReturnType<typeof createKafkaBus>, topic: string, n: number): Promise<string[]> {
  const values: string[] = []
  const c = bus.consumer({ groupId: `g-${topic}`, topics: [topic], maxBatch: 1000 })
  await c.run((batch) => {
    values.push(...batch.map((m) => m.value.toString()))
    if (values.length >= n) void c.close()
    return Promise.resolve()
  })
  return values
}

const PRODUCE = 0 // Kafka's API key of Produce requests

/** A bus whose producers linger `lingerMs`, closed after the test, and a new one-partition topic. */
async function lingeringTopic(
  t: TestContext,
  name: string,
  lingerMs: number,
): Promise<{ bus: ReturnType<typeof createKafkaBus>; topic: string }> {
  const bus = createKafkaBus({ brokers: testBrokers(), clientId: `test-${name}`, producerLingerMs: lingerMs })
  t.after(() => bus.close())
  const topic = uniqueTopic(name)
  await bus.ensureTopic({ name: topic, partitions: 1 })
  return { bus, topic }
}

/** `batches` batches of `size` simulator trades of one symbol (K), as a source handing them over. */
function simulatedBatches(batches: number, size: number, seed: number) {
  const trades = [
    ...simulate({
      symbols: ['K'],
      rate: 0,
      realtime: false,
      count: batches * size,
      seed,
      start: Date.UTC(2026, 10, 24),
    }),
  ]
  const source = {
    name: 'test',
    batches: () =>
      Readable.from(Array.from({ length: batches }, (_, i) => trades.slice(i * size, (i + 1) * size))),
  }
  return { trades, source }
}

/** 'settled' when the promise settles within 30 s, else 'waited'. */
function within30s(p: Promise<unknown>): Promise<'settled' | 'waited'> {
  const waited = new Promise<'waited'>((r) => setTimeout(() => r('waited'), 30_000).unref())
  return Promise.race([p.then(() => 'settled' as const), waited])
}

test('sends within the producer linger share one produce request, in order; with 0ms each goes alone', async (t) => {
  const sends = Array.from({ length: 10 }, (_, s) =>
    Array.from({ length: 50 }, (_, i) => ({ key: 'K', value: String(s * 50 + i) })),
  )
  const expected = Array.from({ length: 500 }, (_, i) => String(i))
  for (const [lingerMs, requests] of [
    [200, 1],
    [0, 10],
  ] as const) {
    const { bus, topic } = await lingeringTopic(t, `producer-linger-${lingerMs}`, lingerMs)
    const producer = bus.producer()
    await producer.send(topic, [{ key: 'K', value: 'first' }]) // the connection and producer id
    const counted = await countRequests(PRODUCE, async () => {
      await Promise.all(sends.map((messages) => producer.send(topic, messages)))
    })
    assert.equal(counted, requests, `linger ${lingerMs} ms`)
    assert.deepEqual(await readAll(bus, topic, 501), ['first', ...expected])
  }
})

test('a linger ends early once it holds 5,000 messages, and a close sends what still lingers', async (t) => {
  const { bus, topic } = await lingeringTopic(t, 'producer-linger-end', 600_000)
  const producer = bus.producer()
  const full = producer.send(
    topic,
    Array.from({ length: 5000 }, (_, i) => ({ key: 'K', value: String(i) })),
  )
  assert.equal(await within30s(full), 'settled')
  const lingering = producer.send(topic, [{ key: 'K', value: 'last' }])
  await producer.close()
  assert.equal(await within30s(lingering), 'settled')
  assert.deepEqual(await readAll(bus, topic, 5001), [
    ...Array.from({ length: 5000 }, (_, i) => String(i)),
    'last',
  ])
})

test('the pump ends a linger when it has to wait on its sends: a 10-minute linger does not hold it', async (t) => {
  const { bus, topic } = await lingeringTopic(t, 'producer-linger-pump', 600_000)
  const { trades, source } = simulatedBatches(5, 100, 1)
  const pumped = pump({
    source,
    producer: bus.producer(),
    topic,
    log: pino({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    maxInFlight: 2,
  })
  assert.equal(await within30s(pumped), 'settled')
  assert.equal(await pumped, 500)
  const ids = (await readAll(bus, topic, 500)).map((v) => (JSON.parse(v) as { id: string }).id)
  assert.deepEqual(
    ids,
    trades.map((tr) => tr.id),
  )
})

test('a live source’s small batches stay in one linger: the pump bounds messages in flight, not sends', async (t) => {
  // At 10,000 trades/s the simulator hands over 70 trades every 7 ms; four such sends in flight
  // made the pump end every linger early.
  const { bus, topic } = await lingeringTopic(t, 'producer-linger-live', 200)
  const { trades, source } = simulatedBatches(10, 70, 2)
  const producer = bus.producer()
  await producer.send(topic, [{ key: 'K', value: 'first' }]) // the topic's layout, looked up once
  const requests = await countRequests(PRODUCE, async () => {
    assert.equal(
      await pump({
        source,
        producer,
        topic,
        log: pino({ level: 'silent' }),
        metrics: createMetrics({ defaultMetrics: false }),
      }),
      700,
    )
  })
  // The ten sends share the 200 ms linger, and the source's end sends it.
  assert.equal(requests, 1)
  const ids = (await readAll(bus, topic, 701)).slice(1).map((v) => (JSON.parse(v) as { id: string }).id)
  assert.deepEqual(
    ids,
    trades.map((tr) => tr.id),
  )
})
