// Bad input fuzzing: random bytes, truncated JSON, oversized messages and wrong types into the
// topic, mixed with valid trades — no crash, every bad message accounted for in the DLQ table —
// and random query strings into the API — no 5xx, no crash.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import type { OutMessage } from '../../src/bus/types.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { buildApp } from '../../src/api/app.ts'
import { createMetrics } from '../../src/metrics/registry.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { startCli } from '../support/cli.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { waitCaughtUp } from '../support/scenario.ts'
import { prng } from '../../src/sources/simulator.ts'

function fuzzMessages(n: number, rand: () => number): OutMessage[] {
  // The template is invalid (negative price), so no mutation of another field can make it valid.
  const template = encodeTrade({
    v: 1,
    type: 'trade',
    symbol: 'FUZZ',
    ts: '2026-11-24T15:30:00.000000Z',
    price: '-10.00',
    size: '1',
    source: 'fuzz',
    id: 'x',
  })
  const out: OutMessage[] = []
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rand() * 5)
    if (kind === 0) out.push({ key: 'FUZZ', value: randomBytes(1 + Math.floor(rand() * 300)) })
    else if (kind === 1)
      out.push({ key: 'FUZZ', value: template.slice(0, Math.floor(rand() * (template.length - 1))) })
    else if (kind === 2)
      out.push({ key: 'FUZZ', value: `{"v":1,"type":"trade","symbol":"FUZZ","pad":"${'x'.repeat(70_000)}"}` })
    else if (kind === 3) {
      const o = JSON.parse(template) as Record<string, unknown>
      const field = ['v', 'type', 'symbol', 'ts', 'size', 'source', 'id'][Math.floor(rand() * 7)]!
      const values = [null, 1.5, -1, true, [], {}, '', 'NaN', '9'.repeat(40)]
      o[field] = values[Math.floor(rand() * values.length)]
      out.push({ key: 'FUZZ', value: JSON.stringify(o) })
    } else out.push({ key: 'FUZZ', value: JSON.stringify(Array.from({ length: 3 }, () => rand())) })
  }
  return out
}

test('random and malformed messages never crash the processor and are all dead-lettered', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('fuzz')
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers })
  t.after(() => bus.close())
  await bus.ensureTopic({ name: topic, partitions: 3 })
  const rand = prng(99)
  const valid = [
    ...simulate({
      symbols: ['AAA', 'BBB'],
      rate: 100,
      realtime: false,
      count: 3000,
      seed: 98,
      start: Date.parse('2026-11-24T14:30:00Z'),
    }),
  ]
  const expected = new TradeChecksum()
  for (const v of valid) expected.add(v)
  const bad = fuzzMessages(1500, rand)
  // Interleave: the valid trades stay in order per symbol, bad messages fall in between.
  const all: OutMessage[] = []
  let b = 0
  for (const v of valid) {
    all.push({ key: v.symbol, value: encodeTrade(v) })
    if (rand() < 0.5 && b < bad.length) all.push(bad[b++]!)
  }
  while (b < bad.length) all.push(bad[b++]!)
  const producer = bus.producer()
  for (let i = 0; i < all.length; i += 200) await producer.send(topic, all.slice(i, i + 200))

  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: 'fuzz',
    DATABASE_URL: database.url,
    // Far below the topic's limit, so the 70 KB messages reach the processor and are judged by
    // size before anything else.
    TICKFLOW_MAX_MESSAGE_BYTES: '65536',
  }
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await waitCaughtUp(brokers, db, 'fuzz', topic, 90_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  const got = await tableChecksum(db)
  assert.equal(got.count, 3000)
  assert.equal(got.sum, expected.sum)
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '1500')
  const reasons = await db.query<{ reason: string }>('select distinct reason from dead_letters order by 1')
  assert.ok(reasons.length >= 3, JSON.stringify(reasons))
  const oversized = bad.filter((m) => m.value.length > 65_536).length
  assert.ok(oversized > 100, `${oversized} oversized messages generated`)
  const [big] = await db.query<{ n: string; sized: string }>(
    `select count(*)::text as n, count(*) filter (where detail ~ '^7[0-9]{4} bytes > 65536')::text as sized
     from dead_letters where reason = 'oversized'`,
  )
  assert.deepEqual(big, { n: String(oversized), sized: String(oversized) })
})

test('random query strings into the API: only 200 or 400, never 5xx', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const app = await buildApp({ metrics: createMetrics({ defaultMetrics: false }), db })
  t.after(() => app.close())
  const rand = prng(7)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!
  const paths = ['/api/v1/trades', '/api/v1/bars', '/api/v1/quotes/latest', '/api/v1/symbols']
  const names = [
    'symbol',
    'interval',
    'from',
    'to',
    'limit',
    'cursor',
    'symbols',
    'x',
    '',
    '__proto__',
    'constructor',
  ]
  const values = [
    "'; drop table ticks;--",
    'AAPL',
    '1m',
    '-1',
    '1e308',
    '%00',
    '2026-11-24T15:30:00Z',
    '9'.repeat(500),
    '∑',
    '[]',
    '{"$gt":1}',
    'AAPL,MSFT',
    '',
  ]
  const statuses = new Map<number, number>()
  for (let i = 0; i < 1000; i++) {
    const qs = Array.from(
      { length: Math.floor(rand() * 5) },
      () => `${encodeURIComponent(pick(names))}=${encodeURIComponent(pick(values))}`,
    ).join('&')
    const res = await app.inject(`${pick(paths)}?${qs}`)
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    assert.ok(
      res.statusCode === 200 || res.statusCode === 400,
      `${res.statusCode} for ${qs}: ${res.body.slice(0, 200)}`,
    )
  }
  assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, JSON.stringify([...statuses]))
  const [ticks] = await db.query<{ n: string }>(
    "select count(*)::text as n from pg_tables where tablename = 'ticks'",
  )
  assert.equal(ticks!.n, '1')
})
