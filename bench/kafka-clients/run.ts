// The Kafka client choice benchmark (docs/decisions/0001-kafka-client.md). Produces N ~150-byte JSON
// trades keyed by symbol to a fresh topic with each client, then consumes them back in a consumer
// group, and prints messages/s. Both clients: idempotent producer, acks=all, batching on, no
// compression. Usage: node bench/kafka-clients/run.ts --brokers 127.0.0.1:9092 [--count 1000000]
import { parseArgs } from 'node:util'
import { Admin, Producer, Consumer, ProduceAcks, MessagesStreamModes } from '@platformatic/kafka'
import { createRequire } from 'node:module'

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    count: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    clients: { type: 'string', default: 'platformatic,confluent' },
  },
})
const brokers = values.brokers.split(',')
const total = Number(values.count)
const partitions = Number(values.partitions)
const SYMBOLS = Array.from({ length: 50 }, (_, i) => `SYM${String(i).padStart(2, '0')}`)
const BATCH = 1000
const IN_FLIGHT = 8

function trade(i: number): { key: string; value: string } {
  const symbol = SYMBOLS[i % SYMBOLS.length]!
  const value = JSON.stringify({
    v: 1,
    type: 'trade',
    symbol,
    ts: new Date(1_790_000_000_000 + i).toISOString(),
    price: (100 + (i % 997) / 100).toFixed(2),
    size: String(1 + (i % 500)),
    source: 'bench',
    id: String(i),
  })
  return { key: symbol, value }
}

async function createTopic(name: string): Promise<void> {
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: brokers })
  await admin.createTopics({ topics: [name], partitions, replicas: 1 })
  await admin.close()
}

/** Runs `send` over all batches with at most IN_FLIGHT outstanding. */
async function pipelined(send: (from: number, to: number) => Promise<void>): Promise<void> {
  let next = 0
  async function worker(): Promise<void> {
    while (next < total) {
      const from = next
      next = Math.min(total, next + BATCH)
      await send(from, next)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
}

async function platformatic(topic: string): Promise<{ produce: number; consume: number }> {
  const producer = new Producer({
    clientId: 'bench-p',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: 'none',
  })
  let t0 = performance.now()
  await pipelined(async (from, to) => {
    const messages = []
    for (let i = from; i < to; i++) {
      const m = trade(i)
      messages.push({ topic, key: Buffer.from(m.key), value: Buffer.from(m.value) })
    }
    await producer.send({ messages })
  })
  const produceSecs = (performance.now() - t0) / 1000
  await producer.close()

  const consumer = new Consumer({
    clientId: 'bench-c',
    groupId: `bench-${topic}`,
    bootstrapBrokers: brokers,
    maxWaitTime: 100,
    maxBytes: 8 * 1024 * 1024,
  })
  t0 = performance.now()
  const stream = await consumer.consume({
    topics: [topic],
    mode: MessagesStreamModes.EARLIEST,
    autocommit: false,
  })
  let seen = 0
  for await (const _m of stream) {
    if (++seen >= total) break
  }
  const consumeSecs = (performance.now() - t0) / 1000
  await stream.close()
  await consumer.close(true)
  return { produce: total / produceSecs, consume: total / consumeSecs }
}

async function confluent(topic: string): Promise<{ produce: number; consume: number }> {
  const require = createRequire(import.meta.url)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KafkaJS } =
    require('@confluentinc/kafka-javascript') as typeof import('@confluentinc/kafka-javascript')
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers, logLevel: KafkaJS.logLevel.ERROR } })
  const producer = kafka.producer({
    kafkaJS: { idempotent: true, acks: -1, compression: KafkaJS.CompressionTypes.None },
    'linger.ms': 5,
  })
  await producer.connect()
  let t0 = performance.now()
  await pipelined(async (from, to) => {
    const messages = []
    for (let i = from; i < to; i++) {
      const m = trade(i)
      messages.push({ key: m.key, value: m.value })
    }
    await producer.send({ topic, messages })
  })
  const produceSecs = (performance.now() - t0) / 1000
  await producer.disconnect()

  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-${topic}`, fromBeginning: true, autoCommit: false },
    'js.consumer.max.batch.size': 1000,
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic] })
  t0 = performance.now()
  let seen = 0
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          seen += batch.messages.length
          if (seen >= total) resolve()
        },
      })
      .catch(reject)
  })
  const consumeSecs = (performance.now() - t0) / 1000
  await consumer.disconnect()
  return { produce: total / produceSecs, consume: total / consumeSecs }
}

const runs: Record<string, (topic: string) => Promise<{ produce: number; consume: number }>> = {
  platformatic,
  confluent,
}
const results: Record<string, { produce: number; consume: number }> = {}
for (const name of values.clients.split(',')) {
  const topic = `bench-client-${name}-${Date.now()}`
  await createTopic(topic)
  results[name] = await runs[name]!(topic)
  console.log(
    `${name.padEnd(13)} produce ${Math.round(results[name].produce).toLocaleString('en')} msg/s   consume ${Math.round(results[name].consume).toLocaleString('en')} msg/s`,
  )
}
console.log(
  JSON.stringify({ count: total, partitions, messageBytes: Buffer.byteLength(trade(12345).value), results }),
)
