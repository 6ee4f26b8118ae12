// Write plans against real PostgreSQL: the same message twice in one batch is one trade, and an
// event time whose extra digits would round past midnight is stored, partitioned and aggregated
// as one instant.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, openPglite, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { checkBars } from '../support/bars.ts'

const run = promisify(execFile)

async function database(t: TestContext): Promise<Db> {
  const d = await createTestDatabase()
  t.after(() => d.drop())
  const db = connectPostgres(d.url)
  t.after(() => db.close())
  await migrate(db)
  return db
}

function item(offset: number, ts: string, id?: string, price = '10.5'): BatchItem {
  const value = encodeTrade({ v: 1, type: 'trade', symbol: 'AAA', ts, price, size: '2', source: 't', id })
  const c = classify({
    topic: 'ticks',
    partition: 0,
    offset: BigInt(offset),
    key: 'AAA',
    value: Buffer.from(value),
    timestamp: 0,
    headers: {},
  })
  assert.ok(c.ok)
  return { topic: 'ticks', partition: 0, offset: BigInt(offset), tick: c.tick }
}

test('a message handed over twice in one batch is stored once and is not its own duplicate', async (t) => {
  const db = await database(t)
  const store = new TickStore(db)
  const withId = item(0, '2026-11-24T15:30:00Z', 'x1')
  const withoutId = item(1, '2026-11-24T15:30:01Z')
  const result = await writeBatch(store, 'g', [withId, withoutId, withId, withoutId])
  assert.equal(result.stored.length, 2)
  assert.deepEqual(result.deadLettered, [])
  const [counts] = await db.query<{ ticks: string; dead: string }>(
    'select (select count(*) from ticks)::text as ticks, (select count(*) from dead_letters)::text as dead',
  )
  assert.deepEqual(counts, { ticks: '2', dead: '0' })
})

test('seven fraction digits just before midnight: stored on its own day, in its partition, bars equal the GROUP BY', async (t) => {
  const db = await database(t)
  const store = new TickStore(db)
  const items = [
    item(0, '2020-01-01T23:59:59.9999999Z', 'a', '10'),
    item(1, '2020-01-01T23:59:59.999999Z', 'b', '11'),
    item(2, '2020-01-02T00:00:00Z', 'c', '12'),
    item(3, '2020-01-01T23:59:59.9999995Z', 'd', '13'),
  ]
  const result = await writeBatch(store, 'g', items)
  assert.equal(result.stored.length, 4)
  const rows = await db.query<{ ts: string; part: string; price: string }>(
    `select to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts, tableoid::regclass::text as part, price::text
     from ticks order by ingest_seq`,
  )
  assert.deepEqual(
    rows.map((r) => r.ts),
    [
      '2020-01-01T23:59:59.999999Z',
      '2020-01-01T23:59:59.999999Z',
      '2020-01-02T00:00:00.000000Z',
      '2020-01-01T23:59:59.999999Z',
    ],
  )
  // The three trades of 2020-01-01 share one partition (their stored instant decided it, so none
  // was routed to a partition made for another day).
  assert.equal(new Set([rows[0]!.part, rows[1]!.part, rows[3]!.part]).size, 1)
  const bars = await checkBars(db)
  assert.deepEqual({ missing: bars.missing, extra: bars.extra }, { missing: 0, extra: 0 })
  assert.ok(bars.bars >= 10)
  // Open/close of the day's bar come from the trades of that day only.
  const [day] = await db.query<{ open: string; close: string; trades: string }>(
    "select open::text, close::text, trades::text from bars where symbol = 'AAA' and interval = '1d' and bucket = '2020-01-01T00:00:00Z'",
  )
  assert.deepEqual(day, { open: '10', close: '13', trades: '3' })
})

for (const kind of ['postgres', 'pglite'] as const) {
  test(`trade ids (${kind}): fresh ones are claimed in one go, stored ones are found among fresh ones, ids kept byte for byte`, async (t) => {
    let db: Db
    if (kind === 'postgres') db = await database(t)
    else {
      const dir = mkdtempSync(join(tmpdir(), 'tickflow-plan-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      db = await openPglite(dir)
      t.after(() => db.close())
      await migrate(db)
    }
    const store = new TickStore(db)
    const ids = ['a\\b', 'tab\\tnot', 'é€😀', 'x"y,z', '\\N']
    const first = await writeBatch(
      store,
      'g',
      ids.map((id, i) => item(i, '2026-11-24T15:30:00Z', id)),
    )
    assert.equal(first.stored.length, 5)
    // A second batch: two ids stored before, between three new ones, and a new one twice.
    const again = ['new1', ids[2]!, 'new2', ids[0]!, 'new3', 'new1']
    const second = await writeBatch(
      store,
      'g',
      again.map((id, i) => item(10 + i, '2026-11-24T15:30:01Z', id)),
    )
    assert.deepEqual(
      second.stored.map((s) => s.tradeId),
      ['new1', 'new2', 'new3'],
    )
    // new1's second copy is a duplicate within the batch; ids[2] and ids[0] were stored before.
    assert.deepEqual(
      second.deadLettered.map((d) => [d.reason, String(d.offset)]),
      [
        ['duplicate_trade_id', '11'],
        ['duplicate_trade_id', '13'],
        ['duplicate_trade_id', '15'],
      ],
    )
    const stored = await db.query<{ trade_id: string }>('select trade_id from trade_ids order by trade_id')
    assert.deepEqual(
      stored.map((r) => r.trade_id),
      [...ids, 'new1', 'new2', 'new3'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    )
    const [n] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
    assert.equal(n!.n, '8')
  })
}

test('PostgreSQL: statements sent without waiting run in order on one connection, with no client warning; a failure rolls all back', async (t) => {
  const d = await createTestDatabase()
  t.after(() => d.drop())
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-inorder-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // In a process of its own: node-postgres warns only once per process.
  const script = `
    import { connectPostgres } from ${JSON.stringify(new URL('../../src/store/db.ts', import.meta.url).href)}
    const db = connectPostgres(${JSON.stringify(d.url)})
    const rows = await db.transaction(async (tx) => {
      const sent = [
        tx.exec('create temporary table w (i int primary key, v text) on commit drop'),
        tx.query('insert into w values (1, $1)', ['a']),
        tx.copyIn('copy w (i, v) from stdin', '2\\tb\\n3\\tc\\n'),
        tx.query("update w set v = v || '!' where i = 2"),
        tx.query("select string_agg(v, ',' order by i) as v from w"),
      ]
      return (await Promise.all(sent))[4]
    })
    await db.exec('create table k (i int primary key)')
    const failed = await db
      .transaction((tx) =>
        Promise.all([tx.query('insert into k values (1)'), tx.query('insert into k values (1)'), tx.query('insert into k values (2)')]),
      )
      .then(() => 'committed', (err) => err.code)
    const [n] = await db.query('select count(*)::int as n from k')
    console.log(JSON.stringify({ rows, failed, n: n.n }))
    await db.close()`
  writeFileSync(join(dir, 'in-order.mjs'), script)
  const { stdout, stderr } = await run(process.execPath, [join(dir, 'in-order.mjs')], { timeout: 60_000 })
  assert.deepEqual(JSON.parse(stdout), { rows: [{ v: 'a,b!,c' }], failed: '23505', n: 0 })
  assert.equal(stderr, '')
})
