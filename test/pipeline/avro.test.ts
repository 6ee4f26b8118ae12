// Avro trades through the real schema registry, broker and database: JSON, Avro v1 and Avro v2 in
// one topic; unknown schema ids and corrupt bodies dead-lettered with their original bytes; the
// processor SIGKILLed while Avro trades flow; the registry SIGKILLed mid-run; an incompatible
// producer schema refused with the registry's answer.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { SchemaRegistry } from '../../src/bus/registry.ts'
import { AvroTradeEncoder, tradeSchema } from '../../src/bus/wire.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import type { OutMessage } from '../../src/bus/types.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'
import { startRegistry, type Registry } from '../support/registry.ts'
import { freePort, testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { TradeChecksum } from '../support/checksum.ts'
import {
  assertExact,
  assertOnlyRepeatsOfStored,
  expectedChecksum,
  ingestArgs,
  waitCaughtUp,
} from '../support/scenario.ts'

let registryDb: TestDatabase
let registry: Registry
const dir = mkdtempSync(join(tmpdir(), 'tickflow-avro-'))

before(async () => {
  registryDb = await createTestDatabase()
  registry = await startRegistry(await freePort(), registryDb.url, join(dir, 'registry.log'))
})

after(async () => {
  await registry?.stop()
  await registryDb?.drop()
  rmSync(dir, { recursive: true, force: true })
})

/** A fresh migrated store, a topic of the test's own, and the environment of its tickflow processes. */
async function scenario(
  t: { after: (fn: () => Promise<void>) => void },
  name: string,
): Promise<{ db: Db; topic: string; group: string; brokers: string[]; env: Record<string, string> }> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const topic = uniqueTopic(name)
  const group = `proc-${topic}`
  const brokers = testBrokers()
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
    SCHEMA_REGISTRY_URL: registry.url,
  }
  return { db, topic, group, brokers, env }
}

test('JSON, Avro v1 and Avro v2 interleaved in one topic: valid ones stored exactly, conditions kept, bad ones dead-lettered', async (t) => {
  const { db, topic, group, brokers, env } = await scenario(t, 'ticks-avro-mix')
  const bus = createKafkaBus({ brokers, clientId: 'test-avro-mix' })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 3 })
  const client = new SchemaRegistry({ url: registry.url })
  const v1 = new AvroTradeEncoder(await client.register(`${topic}-value`, tradeSchema(1)), tradeSchema(1))
  const v2id = await client.register(`${topic}-value`, tradeSchema(2))
  const v2 = new AvroTradeEncoder(v2id, tradeSchema(2))

  const expected = new TradeChecksum()
  const messages: OutMessage[] = []
  const conditionsById = new Map<string, string[]>()
  const bad: { reason: string; value: Buffer }[] = []
  for (let i = 0; i < 3000; i++) {
    const symbol = ['AAA', 'BBB', 'CCC', 'DDD'][i % 4]!
    const trade = {
      v: 1 as const,
      type: 'trade' as const,
      symbol,
      ts: new Date(Date.UTC(2026, 10, 24, 14, 30) + i * 37).toISOString().replace('Z', '123Z'),
      price: `${100 + (i % 97)}.${String(i % 100).padStart(2, '0')}`,
      size: String(1 + (i % 13)),
      source: 'test',
      id: `t${i}`,
    }
    expected.add(trade)
    const kind = i % 3
    if (kind === 0) messages.push({ key: symbol, value: JSON.stringify(trade) })
    else if (kind === 1) messages.push({ key: symbol, value: v1.encode(trade) })
    else {
      const conditions = i % 2 === 0 ? ['@', 'F', 'T'] : []
      if (conditions.length > 0) conditionsById.set(trade.id, conditions)
      messages.push({ key: symbol, value: v2.encode({ ...trade, conditions }) })
    }
    if (i % 500 === 250) {
      const unknown = Buffer.concat([Buffer.from([0, 0, 0, 0x7f, 0x00]), v2.encode(trade).subarray(5)])
      const corrupt = Buffer.concat([v2.encode(trade).subarray(0, 5), Buffer.from([0x02, 0xff, 0xff])])
      bad.push({ reason: 'unknown_schema', value: unknown }, { reason: 'undecodable', value: corrupt })
      messages.push({ key: symbol, value: unknown }, { key: symbol, value: corrupt })
    }
  }
  const producer = bus.producer()
  await producer.send(topic, messages)
  await producer.close()

  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await waitCaughtUp(brokers, db, group, topic, 120_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())

  await assertExact(db, expected)
  const rows = await db.query<{ trade_id: string; conditions: string[] | null }>(
    'select trade_id, conditions from ticks where conditions is not null',
  )
  assert.equal(rows.length, conditionsById.size)
  for (const r of rows) assert.deepEqual(r.conditions, conditionsById.get(r.trade_id), r.trade_id)
  const dead = await db.query<{ reason: string; payload: Buffer }>(
    'select reason, payload from dead_letters order by partition, "offset"',
  )
  assert.equal(dead.length, bad.length)
  const byReason = (rs: { reason: string }[]): Record<string, number> =>
    rs.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.reason]: (acc[r.reason] ?? 0) + 1 }), {})
  assert.deepEqual(byReason(dead), byReason(bad))
  const payloads = new Set(dead.map((d) => d.payload.toString('hex')))
  for (const b of bad) assert.ok(payloads.has(b.value.toString('hex')), 'original bytes kept')
})

test('200,000 Avro trades while the processor is SIGKILLed 5 times: count and checksum exact', async (t) => {
  const { db, topic, group, brokers, env } = await scenario(t, 'ticks-avro-eo')
  const [count, rate, seed] = [200_000, 25_000, 7]
  const ingest = startCli(ingestArgs(count, rate, seed), env)
  t.after(() => void ingest.child.kill('SIGKILL'))
  let proc: CliProcess = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  for (let kills = 0; kills < 5; kills++) {
    await sleep(700 + Math.random() * 900)
    proc.child.kill('SIGKILL')
    await proc.exited
    proc = startCli(['process'], env)
  }
  assert.equal((await ingest.exited).code, 0, ingest.output())
  await waitCaughtUp(brokers, db, group, topic, 180_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertExact(db, expectedChecksum(count, rate, seed))
  // A send the producer could not confirm under load is sent again: its repeats are dead letters
  // naming a stored trade, never a decoding or schema failure.
  const { repeats, retries } = await assertOnlyRepeatsOfStored(db, ingest.output())
  if (repeats > 0)
    t.diagnostic(`${repeats} repeats dead-lettered as duplicates (${retries} producer retries logged)`)
  // Every message on the topic is Avro in the Confluent wire format, with one registered id.
  const [first] = await db.query<{ n: string }>(
    "select count(*)::text as n from ticks where source = 'simulator'",
  )
  assert.equal(first!.n, String(count))
})

test('the registry SIGKILLed mid-run: producer and a fresh processor wait for it, nothing lost', async (t) => {
  const { db, topic, group, brokers, env } = await scenario(t, 'ticks-avro-reg')
  const [count, rate, seed] = [30_000, 10_000, 11]
  await registry.kill()
  // Both start while the registry is down: the producer cannot register, the processor cannot
  // look up a writer schema; both retry instead of failing or dead-lettering.
  const ingest = startCli(ingestArgs(count, rate, seed), env)
  t.after(() => void ingest.child.kill('SIGKILL'))
  await sleep(3000)
  await registry.start()
  await sleep(1500)
  await registry.kill()
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await sleep(3000)
  await registry.start()
  assert.equal((await ingest.exited).code, 0, ingest.output())
  await waitCaughtUp(brokers, db, group, topic, 120_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertExact(db, expectedChecksum(count, rate, seed))
  // No message was refused for its schema. A producer retry after a send it could not confirm may
  // repeat a batch in the topic: those repeats are dead-lettered as duplicates of stored trades.
  await assertOnlyRepeatsOfStored(db, ingest.output())
})

test(
  'an incompatible schema under the subject: the producer exits with one line naming it and the registry answer',
  { timeout: 60_000 },
  async (t) => {
    const topic = uniqueTopic('ticks-avro-incompat')
    const older = tradeSchema(1) as { fields: { name: string; type: unknown }[] }
    older.fields = older.fields.map((f) => (f.name === 'ts' ? { name: 'ts', type: 'string' } : f))
    await new SchemaRegistry({ url: registry.url }).register(`${topic}-value`, older)
    const ingest = startCli(ingestArgs(10, 1000, 1), {
      KAFKA_BROKERS: testBrokers().join(','),
      KAFKA_TOPIC: topic,
      SCHEMA_REGISTRY_URL: registry.url,
    })
    t.after(() => void ingest.child.kill('SIGKILL'))
    const { code } = await ingest.exited
    const output = ingest.output()
    assert.notEqual(code, 0)
    const lines = output.trim().split('\n')
    assert.match(
      lines.at(-1)!,
      new RegExp(`^tickflow: the schema registry refused the schema for ${topic}-value: .+`),
    )
    assert.ok(!/\n\s+at /.test(output), output)
  },
)
