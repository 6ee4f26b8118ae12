// Canaries for src/bus/kafka-workarounds.ts: each test shows, against real brokers, that the
// client behaviour a workaround exists for is still there. A canary that fails after a client
// upgrade means the client changed: re-check the behaviour, then remove the workaround (and this
// canary) rather than "fixing" the test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  type Message,
  type MessageToProduce,
} from '@platformatic/kafka'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { brokerReason } from '../../src/bus/kafka-errors.ts'
import {
  CLIENT_VERSION,
  RefetchFilter,
  WORKAROUNDS,
  produceRequests,
} from '../../src/bus/kafka-workarounds.ts'
import { root, startKafka, type KafkaNodeSpec } from '../support/kafka.ts'
import { freePort, testBrokers, uniqueTopic } from '../support/topics.ts'
import { waitFor, waitGroupMembers } from '../support/wait.ts'

type Raw = Message<Buffer, Buffer, Buffer, Buffer>
type Out = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

const remove = (name: keyof typeof WORKAROUNDS): string =>
  `@platformatic/kafka no longer shows "${WORKAROUNDS[name].upstream}" Remove the workaround ` +
  `WORKAROUNDS.${name} in src/bus/kafka-workarounds.ts and this canary.`

test('the installed client is the version the workarounds were written against', () => {
  const installed = JSON.parse(
    readFileSync(join(root, 'node_modules/@platformatic/kafka/package.json'), 'utf8'),
  ) as { version: string }
  const pinned = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
  ).dependencies['@platformatic/kafka']
  const why = 'after an upgrade, run this file and update CLIENT_VERSION in src/bus/kafka-workarounds.ts'
  assert.equal(pinned, CLIENT_VERSION, why)
  assert.equal(installed.version, CLIENT_VERSION, why)
})

test(WORKAROUNDS.refetchAfterRebalance.canary, async (t) => {
  const brokers = testBrokers()
  const topic = uniqueTopic('refetch')
  const group = uniqueTopic('refetch-group')
  const bus = createKafkaBus({ brokers })
  await bus.ensureTopic({ name: topic, partitions: 2 })
  await bus.close()
  const consumer = (): Consumer<Buffer, Buffer, Buffer, Buffer> =>
    new Consumer({
      clientId: 'canary',
      bootstrapBrokers: brokers,
      groupId: group,
      // A fresh broker creates its offsets topic on the first join: the coordinator can take a
      // few seconds to answer.
      retries: 120,
      retryDelay: 500,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTime: 100,
    })
  const options = {
    topics: [topic],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    autocommit: false,
  }
  const first = consumer()
  const second = consumer()
  t.after(async () => {
    await Promise.allSettled([first.close(true), second.close(true)])
  })
  // The first member reads both partitions and, as tickflow does, commits behind what it was
  // handed: here up to offset 5 of each partition (offsets 0-4 stored), although it read 0-9.
  const seen: Raw[] = []
  const firstStream = await first.consume(options)
  firstStream.on('data', (m: Raw) => seen.push(m))
  // Produced once the first member has settled in the group, so no rebalance of its own joining
  // (a fresh broker can need several) hands anything out twice before the one under test.
  await waitGroupMembers(brokers, group, topic, 1, 120_000)
  // Idempotent: a produce retried on a fresh broker must not write a message twice.
  const producer = new Producer({
    clientId: 'canary',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
  })
  const messages: Out[] = []
  for (const partition of [0, 1])
    for (let i = 0; i < 10; i++)
      messages.push({ topic, partition, key: Buffer.from(`k${i}`), value: Buffer.from(`${partition}:${i}`) })
  await producer.send({ messages })
  await producer.close()
  await waitFor(
    () => seen.length >= 20,
    90_000,
    () => `20 messages, have ${seen.length}`,
  )
  const before = seen.length
  assert.equal(before, 20, 'each message handed out once before the second member joins')
  for (const m of seen.filter((m) => m.offset === 4n)) await m.commit()

  // A second member joins: the group rebalances and the first keeps one of the two partitions.
  const theirs: Raw[] = []
  const secondStream = await second.consume(options)
  secondStream.on('data', (m: Raw) => theirs.push(m))
  await waitFor(
    () => theirs.length >= 5,
    90_000,
    () => `the second member reading (${theirs.length})`,
  )
  const kept = first.assignments?.find((a) => a.topic === topic)?.partitions ?? []
  assert.equal(kept.length, 1, `the first member keeps one partition: ${JSON.stringify(first.assignments)}`)

  // Upstream behaviour: the kept partition is fetched again from the committed offset, so the
  // first member is handed offsets 5-9 a second time.
  const again = (): Raw[] => seen.slice(before)
  await waitFor(
    () => again().length >= 5,
    60_000,
    () => remove('refetchAfterRebalance'),
  )
  assert.deepEqual(
    again().map((m) => `${m.partition}:${m.offset}`),
    [5n, 6n, 7n, 8n, 9n].map((o) => `${kept[0]}:${o}`),
    remove('refetchAfterRebalance'),
  )
  // The workaround hands each message out once.
  const filter = new RefetchFilter()
  assert.equal(seen.filter((m) => filter.accept(m)).length, 20)
  assert.equal(filter.dropped, 5)
})

test(WORKAROUNDS.producerRetryFollowsFirstLeader.canary, async (t) => {
  const ports = await Promise.all(Array.from({ length: 9 }, () => freePort()))
  const specs: KafkaNodeSpec[] = [1, 2, 3].map((nodeId, i) => ({
    nodeId,
    port: ports[i * 3]!,
    controllerPort: ports[i * 3 + 1]!,
    jmxPort: ports[i * 3 + 2]!,
  }))
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-canary-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const kafka = await startKafka(dir, specs)
  t.after(() => Promise.all(kafka.nodes.map((n) => n.kill())))
  const all = kafka.brokers.split(',')
  const survivors = all.slice(1)
  const topic = 'canary'

  // Both partitions led by broker 1; when it goes, partition 0 moves to broker 2 and 1 to broker 3.
  const admin = new Admin({ clientId: 'canary-admin', bootstrapBrokers: all })
  await admin.createTopics({
    topics: [topic],
    assignments: [
      { partition: 0, brokers: [1, 2, 3] },
      { partition: 1, brokers: [1, 3, 2] },
    ],
  })
  await admin.close()
  const leaders = async (bootstrap: string[]): Promise<string> => {
    const a = new Admin({ clientId: 'canary-admin', bootstrapBrokers: bootstrap, retries: 1 })
    try {
      const meta = await a.metadata({ topics: [topic], forceUpdate: true })
      return (meta.topics.get(topic)?.partitions ?? []).map((p) => p.leader).join(',')
    } catch {
      return 'unknown'
    } finally {
      await a.close()
    }
  }
  await waitFor(async () => (await leaders(all)) === '1,1', 30_000, 'broker 1 to lead both partitions')

  // The producer is configured as tickflow's (idempotent, acks=all, lz4), with a bounded number of
  // retries so the behaviour shows as an error rather than a send that never ends, and metadata
  // kept long enough that the send below starts from the layout before broker 1 left.
  const producer = new Producer({
    clientId: 'canary',
    bootstrapBrokers: all,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: 'lz4',
    retries: 3,
    retryDelay: 200,
    metadataMaxAge: 300_000,
  })
  t.after(() => producer.close())
  const out = (partition: number, value: string): Out => ({
    topic,
    partition,
    key: Buffer.from('k'),
    value: Buffer.from(value),
  })
  await producer.send({ messages: [out(0, 'warm-0'), out(1, 'warm-1')] })

  await kafka.nodes[0]!.stop() // controlled shutdown: leadership moves to the preferred replicas
  await waitFor(async () => (await leaders(survivors)) === '2,3', 60_000, 'leaders 2 and 3')

  // Upstream behaviour: one request for both partitions (both were led by broker 1) is retried
  // against the new leader of partition 0 only, which refuses partition 1's messages.
  const spanning = [out(0, 'a-0'), out(1, 'a-1')]
  const failure = await producer.send({ messages: spanning }).then(
    () => undefined,
    (err: unknown) => brokerReason(err),
  )
  assert.ok(failure, remove('producerRetryFollowsFirstLeader'))
  assert.match(failure, /NOT_LEADER_OR_FOLLOWER/, remove('producerRetryFollowsFirstLeader'))

  // The workaround: one request per partition, each retried against its own leader.
  const split = [out(0, 'b-0'), out(1, 'b-1')]
  const requests = produceRequests(split, 3)
  assert.equal(requests.length, 2)
  await Promise.all(requests.map((messages) => producer.send({ messages })))
})
