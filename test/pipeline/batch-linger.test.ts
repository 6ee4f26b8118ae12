// The processor's batch linger (TICKFLOW_BATCH_LINGER): `tickflow process` on Kafka lets a batch
// that is not full wait for more trades, so trades sent apart within the linger are stored in one
// transaction; with 0ms each send is a batch of its own. Read from the processor's own /metrics.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestDatabase } from '../support/postgres.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { encodeTrade, isoMicros } from '../../src/domain/trade.ts'
import { loadConfig } from '../../src/config/load.ts'
import { startCli } from '../support/cli.ts'
import { freePort, testBrokers, uniqueTopic } from '../support/topics.ts'
import { waitFor, waitGroupMembers } from '../support/wait.ts'

function metric(page: string, name: string): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

/** Two sends of three trades, 400 ms apart, through `tickflow process` with the given linger. */
async function batchesOf(linger: string): Promise<{ batches: number; trades: number }> {
  const database = await createTestDatabase()
  const topic = uniqueTopic('linger')
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers })
  const db = connectPostgres(database.url)
  const port = await freePort()
  const group = `linger-${topic}`
  const proc = startCli(['process'], {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
    HTTP_PORT: String(port),
    TICKFLOW_BATCH_LINGER: linger,
  })
  try {
    await bus.ensureTopic({ name: topic, partitions: 1 })
    await waitGroupMembers(brokers, group, topic, 1, 60_000, proc.output)
    const producer = bus.producer()
    const now = Date.now()
    const send = (from: number): Promise<void> =>
      producer.send(
        topic,
        [0, 1, 2].map((i) => {
          const n = from + i
          const trade = {
            v: 1 as const,
            type: 'trade' as const,
            symbol: 'LING',
            ts: isoMicros(now + n),
            price: `${100 + n}.5`,
            size: '1',
            source: 'test',
            id: `t${n}`,
          }
          return { key: trade.symbol, value: encodeTrade(trade) }
        }),
      )
    await send(0)
    await new Promise((r) => setTimeout(r, 400))
    await send(3)
    await waitFor(
      async () =>
        Number((await db.query<{ n: string }>('select count(*)::text as n from ticks'))[0]!.n) === 6,
      60_000,
      () => `6 ticks stored: ${proc.output()}`,
    )
    const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    return {
      batches: metric(page, 'tickflow_batch_size_count') ?? NaN,
      trades: metric(page, 'tickflow_batch_size_sum') ?? NaN,
    }
  } finally {
    proc.child.kill('SIGTERM')
    await proc.exited
    await bus.close()
    await db.close()
    await database.drop()
  }
}

test('with a linger of 3s trades sent 400 ms apart are stored in one batch; with 0ms in two', async () => {
  assert.deepEqual(await batchesOf('3s'), { batches: 1, trades: 6 })
  assert.deepEqual(await batchesOf('0ms'), { batches: 2, trades: 6 })
})

test('the linger defaults to 0ms and takes a duration of at most 10s', () => {
  const load = (env: Record<string, string>) => loadConfig({ env, dotenvPath: '/nonexistent' })
  assert.equal(load({}).batchLinger, 0)
  assert.equal(load({ TICKFLOW_BATCH_LINGER: '250ms' }).batchLinger, 250)
  assert.throws(() => load({ TICKFLOW_BATCH_LINGER: '11s' }), /TICKFLOW_BATCH_LINGER.*at most 10s/)
  assert.throws(() => load({ TICKFLOW_BATCH_LINGER: '25' }), /TICKFLOW_BATCH_LINGER.*duration/)
})
