// The schema registry path against the real registry (Apicurio 2.4.2, Confluent API, schemas kept
// in PostgreSQL): registration with BACKWARD compatibility, safe evolution (v1 → v2 with sale
// conditions), an incompatible change refused with the registry's own message, ids kept across a
// SIGKILL, and exact Avro round trips in the Confluent wire format.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SchemaRegistry, SchemaRejectedError } from '../../src/bus/registry.ts'
import {
  AvroTradeDecoder,
  AvroTradeEncoder,
  isoToMicros,
  microsToIso,
  tradeSchema,
} from '../../src/bus/wire.ts'
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts'
import { startRegistry, type Registry } from '../support/registry.ts'
import { freePort } from '../support/topics.ts'
import { runCli } from '../support/cli.ts'

let db: TestDatabase
let registry: Registry
const dir = mkdtempSync(join(tmpdir(), 'tickflow-registry-'))

before(async () => {
  db = await createTestDatabase()
  registry = await startRegistry(await freePort(), db.url, join(dir, 'registry.log'))
})

after(async () => {
  await registry?.stop()
  await db?.drop()
  rmSync(dir, { recursive: true, force: true })
})

const trade = {
  v: 1 as const,
  type: 'trade' as const,
  symbol: 'AAPL',
  ts: '2026-11-24T15:30:00.123456Z',
  price: '189.2300000001',
  size: '0.000000000001',
  source: 'finnhub',
  id: 'trade-é-1',
  recvTs: '2026-11-24T15:30:00.200001Z',
}

test('timestamps travel as exact microseconds', () => {
  for (const iso of [
    '1970-01-01T00:00:00.000000Z',
    '2026-11-24T15:30:00.123456Z',
    '2199-12-31T23:59:59.999999Z',
  ])
    assert.equal(microsToIso(isoToMicros(iso)), iso)
  assert.equal(isoToMicros('2026-11-24T15:30:00Z'), Date.UTC(2026, 10, 24, 15, 30) * 1000)
  assert.equal(microsToIso(isoToMicros('2026-11-24T15:30:00.1Z')), '2026-11-24T15:30:00.100000Z')
})

test('v1 and v2 register under BACKWARD, an incompatible change is refused with the registry message', async () => {
  const client = new SchemaRegistry({ url: registry.url })
  const subject = 'evolve-value'
  const v1 = await client.register(subject, tradeSchema(1))
  assert.equal(await client.register(subject, tradeSchema(1)), v1, 'the same schema gets its id back')
  const v2 = await client.register(subject, tradeSchema(2))
  assert.notEqual(v2, v1)
  const incompatible = tradeSchema(2) as { fields: object[] }
  incompatible.fields = [...incompatible.fields, { name: 'venue', type: 'string' }]
  await assert.rejects(client.register(subject, incompatible), (err: unknown) => {
    assert.ok(err instanceof SchemaRejectedError)
    assert.match(err.message, /refused the schema for evolve-value: .+/)
    return true
  })
  const res = await fetch(`${registry.url}/subjects/${subject}/versions`)
  assert.deepEqual(await res.json(), [1, 2], 'the refused schema left no version behind')
})

test('a producer registering the same schema at once gets its one id and one version', async () => {
  const client = new SchemaRegistry({ url: registry.url })
  const subject = 'race-value'
  // Repeated, since the registry's own race (check, then add a version) shows only sometimes.
  for (let round = 0; round < 5; round++) {
    const s = `${subject}-${round}`
    const ids = await Promise.all(Array.from({ length: 8 }, () => client.register(s, tradeSchema(2))))
    assert.equal(new Set(ids).size, 1, `ids ${ids.join(',')}`)
    assert.deepEqual(await client.versions(s), [1], s)
  }
})

test('producers starting after the first add no version; producers at once all get one id', async () => {
  const subject = 'fleet-value'
  const first = await new SchemaRegistry({ url: registry.url }).register(subject, tradeSchema(2))
  const later = await Promise.all(
    Array.from({ length: 8 }, () =>
      new SchemaRegistry({ url: registry.url }).register(subject, tradeSchema(2)),
    ),
  )
  assert.deepEqual(new Set(later), new Set([first]))
  assert.deepEqual(await new SchemaRegistry({ url: registry.url }).versions(subject), [1])
  const fresh = await Promise.all(
    Array.from({ length: 8 }, () =>
      new SchemaRegistry({ url: registry.url }).register('fresh-value', tradeSchema(1)),
    ),
  )
  assert.equal(new Set(fresh).size, 1, `ids ${fresh.join(',')}`)
})

test('Avro round trip in the Confluent wire format, both versions, exact', async () => {
  const client = new SchemaRegistry({ url: registry.url })
  const id1 = await client.register('roundtrip-value', tradeSchema(1))
  const id2 = await client.register('roundtrip-value', tradeSchema(2))
  const m1 = new AvroTradeEncoder(id1, tradeSchema(1)).encode(trade)
  const m2 = new AvroTradeEncoder(id2, tradeSchema(2)).encode({ ...trade, conditions: ['@', 'T', 'I'] })
  assert.equal(m1[0], 0)
  assert.equal(m1.readUInt32BE(1), id1)
  assert.equal(m2.readUInt32BE(1), id2)
  const decoder = new AvroTradeDecoder(new SchemaRegistry({ url: registry.url }))
  await decoder.prepare([m1, m2])
  assert.deepEqual(decoder.decode(m1), trade)
  assert.deepEqual(decoder.decode(m2), { ...trade, conditions: ['@', 'T', 'I'] })
  const corrupt = Buffer.concat([m2.subarray(0, 5), Buffer.from([0xff, 0xff, 0xff])])
  const unknown = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 2, 65])
  await decoder.prepare([corrupt, unknown])
  assert.equal((decoder.decode(corrupt) as { reason: string }).reason, 'undecodable')
  assert.deepEqual(decoder.decode(unknown), {
    reason: 'unknown_schema',
    detail: `schema id ${0x7fffffff} is not in the registry`,
  })
})

test('the registry SIGKILLed and restarted keeps every schema id (PostgreSQL storage)', async () => {
  const client = new SchemaRegistry({ url: registry.url })
  const id = await client.register('restart-value', tradeSchema(2))
  const before = await client.schemaText(id)
  await registry.kill()
  await assert.rejects(new SchemaRegistry({ url: registry.url, timeoutMs: 1000 }).subjects(), /unreachable/)
  await registry.start()
  const fresh = new SchemaRegistry({ url: registry.url })
  assert.equal(await fresh.schemaText(id), before)
  assert.equal(await fresh.register('restart-value', tradeSchema(2)), id)
  assert.ok((await fresh.subjects()).includes('restart-value'))
})

test('doctor: the registry line says reachable, the subject version, or refused at once', async () => {
  const env = { KAFKA_BROKERS: '', DATABASE_URL: '', KAFKA_TOPIC: 'doctor-ticks' }
  const before = await runCli(['doctor'], { ...env, SCHEMA_REGISTRY_URL: registry.url })
  assert.match(
    before.output,
    /^note registry +127\.0\.0\.1:\d+: \d+ subject\(s\); producers write avro; doctor-ticks-value not registered yet/m,
  )
  await new SchemaRegistry({ url: registry.url }).register('doctor-ticks-value', tradeSchema(1))
  await new SchemaRegistry({ url: registry.url }).register('doctor-ticks-value', tradeSchema(2))
  const after = await runCli(['doctor'], { ...env, SCHEMA_REGISTRY_URL: registry.url })
  assert.match(
    after.output,
    /^ok {3}registry +127\.0\.0\.1:\d+: \d+ subject\(s\); producers write avro; doctor-ticks-value at version 2$/m,
  )
  const port = await freePort()
  const refused = await runCli(['doctor'], {
    ...env,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7`,
  })
  assert.equal(refused.code, 1)
  assert.match(
    refused.output,
    new RegExp(`^FAIL registry +schema registry at 127\\.0\\.0\\.1:${port} refused the connection`, 'm'),
  )
  const json = await runCli(['doctor'], { ...env, TICKFLOW_WIRE_FORMAT: 'avro' })
  assert.match(json.output, /^FAIL registry +TICKFLOW_WIRE_FORMAT=avro needs SCHEMA_REGISTRY_URL$/m)
})
