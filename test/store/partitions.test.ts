// History-proof partitions of ticks: decades of replayed history make a bounded number of
// partitions, a query over all of history takes a bounded number of locks, and a store from
// before the layout (one partition per day) is converted without losing a row.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, openPglite, type Db } from '../../src/store/db.ts'
import { listMigrations, migrate } from '../../src/store/migrate.ts'
import { listPartitions } from '../../src/store/partitions.ts'
import { TickStore } from '../../src/store/ticks.ts'
import type { BatchItem } from '../../src/domain/types.ts'
import { writeBatch } from '../../src/processor/plan.ts'
import { classify } from '../../src/processor/validate.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { createTestDatabase } from '../support/postgres.ts'

const DAY = 86_400_000

/** One trade per day, `n` days from `first` every `step` days; price = 100 + i/100. */
function historyItems(first: string, n: number, step: number): BatchItem[] {
  const start = Date.parse(first)
  return Array.from({ length: n }, (_, i) => {
    const ts = new Date(start + i * step * DAY + 12 * 3_600_000).toISOString()
    const value = Buffer.from(
      encodeTrade({
        v: 1,
        type: 'trade',
        symbol: 'HIST',
        ts,
        price: (100 + i / 100).toFixed(2),
        size: '1',
        source: 'test',
        id: `h${i}`,
      }),
    )
    const c = classify({
      topic: 'ticks',
      partition: 0,
      offset: BigInt(i),
      key: 'HIST',
      value,
      timestamp: 0,
      headers: {},
    })
    assert.ok(c.ok, `trade ${i} at ${ts} is valid`)
    return { topic: 'ticks', partition: 0, offset: BigInt(i), tick: c.tick }
  })
}

async function pgDb(t: TestContext): Promise<Db> {
  return (await pgDatabase(t)).db
}

async function pgDatabase(t: TestContext): Promise<{ db: Db; url: string }> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  return { db, url: database.url }
}

async function store(db: Db, items: BatchItem[]): Promise<void> {
  const s = new TickStore(db)
  for (let i = 0; i < items.length; i += 500) await writeBatch(s, 'g', items.slice(i, i + 500))
}

async function totals(db: Db): Promise<{ n: string; sum: string }> {
  const [r] = await db.query<{ n: string; sum: string }>(
    'select count(*)::text as n, sum(price)::text as sum from ticks',
  )
  return r!
}

/** Partition names straight from the catalog (works on any version of the schema). */
async function partitionNames(db: Db): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    "select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'ticks'::regclass order by 1",
  )
  return rows.map((r) => r.name)
}

const years = (items: BatchItem[]): number => new Set(items.map((i) => i.tick!.ts.slice(0, 4))).size

test('4,500 trades on distinct days over decades: one partition per year, a whole-history query takes few locks', async (t) => {
  const { db, url } = await pgDatabase(t)
  await migrate(db)
  // 1980-01-01 every 3 days: 4,500 distinct days up to 2016, all older than the current year.
  const items = historyItems('1980-01-01T00:00:00Z', 4500, 3)
  assert.equal(new Set(items.map((i) => i.tick!.ts.slice(0, 10))).size, 4500)
  await store(db, items)
  // Σ price = 4500·100 + (0 + … + 4499)/100 = 450000 + 101227.50
  assert.deepEqual(await totals(db), { n: '4500', sum: '551227.50' })
  const partitions = await partitionNames(db)
  assert.equal(years(items), 37)
  assert.equal(partitions.length, 37, `${partitions.length} partitions`)
  assert.deepEqual(partitions.slice(0, 2), ['ticks_1980', 'ticks_1981'])
  // A query without a time range opens every partition and its indexes: count them in the same
  // transaction. With one partition per day this was 9,000+ (out of shared memory under load).
  const locks = await db.transaction(async (tx) => {
    await tx.query("select count(*) from ticks where symbol = 'HIST'")
    const [r] = await tx.query<{ n: string }>(
      "select count(*)::text as n from pg_locks where pid = pg_backend_pid() and locktype = 'relation'",
    )
    return Number(r!.n)
  })
  assert.ok(locks < 150, `${locks} relation locks for a whole-history query`)
  // 20 at once on 20 connections all answer (with day partitions: "out of shared memory").
  const pool = connectPostgres(url, { max: 20 })
  t.after(() => pool.close())
  const answers = await Promise.all(
    Array.from({ length: 20 }, () =>
      pool.transaction((tx) =>
        tx.query<{ n: string }>("select count(*)::text as n from ticks where symbol = 'HIST'"),
      ),
    ),
  )
  assert.deepEqual(new Set(answers.map((a) => a[0]!.n)), new Set(['4500']))
  t.diagnostic(`${locks} relation locks over ${partitions.length} partitions`)
})

test('live data gets month partitions, history years, and a gap between them is filled without overlap', async (t) => {
  const db = await pgDb(t)
  await migrate(db)
  const ensure = (ts: string, today: string) =>
    db.query<{ lo: string; hi: string }>(
      `select to_char(lo at time zone 'UTC', 'YYYY-MM-DD') as lo, to_char(hi at time zone 'UTC', 'YYYY-MM-DD') as hi
       from tickflow_ensure_partition($1::timestamptz, $2::date)`,
      [ts, today],
    )
  assert.deepEqual(await ensure('2030-06-15T10:00:00Z', '2030-06-20'), [
    { lo: '2030-06-01', hi: '2030-07-01' },
  ])
  assert.deepEqual(await ensure('2031-05-31T23:59:59Z', '2030-06-20'), [
    { lo: '2031-05-01', hi: '2031-06-01' },
  ])
  // 13 months ahead and more: a year, clipped to end where the months of that year begin.
  assert.deepEqual(await ensure('2031-07-04T00:00:00Z', '2030-06-20'), [
    { lo: '2031-06-01', hi: '2032-01-01' },
  ])
  assert.deepEqual(await ensure('2031-01-10T00:00:00Z', '2030-06-20'), [
    { lo: '2031-01-01', hi: '2031-02-01' },
  ])
  // Seen from 2032, 2030 is history: its gaps become one partition each, up to the neighbours.
  assert.deepEqual(await ensure('2030-02-01T00:00:00Z', '2032-03-01'), [
    { lo: '2030-01-01', hi: '2030-06-01' },
  ])
  assert.deepEqual(await ensure('2030-12-31T23:59:59.999999Z', '2032-03-01'), [
    { lo: '2030-07-01', hi: '2031-01-01' },
  ])
  // Asking again returns the existing partition.
  assert.deepEqual(await ensure('2030-06-30T00:00:00Z', '2040-01-01'), [
    { lo: '2030-06-01', hi: '2030-07-01' },
  ])
  assert.deepEqual(
    (await listPartitions(db)).map((p) => p.name),
    [
      'ticks_20300101_20300601',
      'ticks_203006',
      'ticks_20300701_20310101',
      'ticks_203101',
      'ticks_203105',
      'ticks_20310601_20320101',
    ],
  )
})

/** A store as migrations 001–002 left it: day partitions, made by the old function. */
async function legacyStore(db: Db): Promise<void> {
  await db.query(
    'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
  )
  for (const m of listMigrations().filter((x) => x.version <= 2)) {
    await db.exec(m.sql)
    await db.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name])
  }
}

test('a store with one partition per day is converted by the migration, every row kept', async (t) => {
  const db = await pgDb(t)
  await legacyStore(db)
  // 600 days of 2019–2020 every day, one day of 2017 alone in its year, plus the days around now
  // a processor creates ahead.
  const items = [
    ...historyItems('2017-07-04T00:00:00Z', 1, 1).map((i) => ({ ...i, offset: 600n })),
    ...historyItems('2019-03-01T00:00:00Z', 600, 1),
  ]
  const now = Date.now()
  const recent = [-1, 0, 1, 2, 3].map((d) => new Date(now + d * DAY).toISOString().slice(0, 10))
  for (const day of [...new Set(items.map((i) => i.tick!.ts.slice(0, 10))), ...recent])
    await db.query('select tickflow_ensure_day_partition($1::date)', [day])
  await db.transaction(async (tx) => {
    for (const i of items) {
      const k = i.tick!
      await tx.query(
        `insert into ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition)
         values ($1, $2, $3, $4, $5, $6, $7, 0)`,
        [k.symbol, k.ts, k.price, k.size, k.source, k.tradeId, i.offset.toString()],
      )
    }
  })
  const before = await totals(db)
  assert.equal(before.n, '601')
  assert.equal((await partitionNames(db)).length, 601 + recent.filter((d) => d > '2020-10-21').length)
  assert.deepEqual(
    await migrate(db),
    listMigrations()
      .filter((m) => m.version > 2)
      .map((m) => m.version),
  )
  assert.deepEqual(await totals(db), before)
  const names = (await listPartitions(db)).map((p) => p.name)
  // 2019 and 2020 became one year each, the lone day of 2017 its whole year; the recent days one
  // month each (two if they span a month end, even when only one of them is in the second month),
  // except a day of last year (yesterday, on 1 January), which is history: its whole year.
  assert.deepEqual(names.slice(0, 3), ['ticks_2017', 'ticks_2019', 'ticks_2020'])
  const thisYear = new Date(now).toISOString().slice(0, 4)
  const units = new Set(
    recent.map((d) => (d.slice(0, 4) < thisYear ? d.slice(0, 4) : d.slice(0, 7).replace('-', ''))),
  )
  assert.deepEqual(
    names.slice(3),
    [...units].sort().map((m) => `ticks_${m}`),
  )
  // Writes keep landing in the merged partitions.
  await store(
    db,
    historyItems('2019-06-01T00:00:00Z', 3, 100).map((i, n) => ({ ...i, offset: BigInt(1000 + n) })),
  )
  assert.equal((await totals(db)).n, '604')
  // A second start finds nothing left to merge or widen.
  assert.deepEqual(await db.query('select * from tickflow_ticks_merge_candidates()'), [])
  assert.deepEqual(await db.query('select * from tickflow_ticks_widen_candidates()'), [])
})

test('a day partition alone in its month of an older store becomes the whole month', async (t) => {
  const db = await pgDb(t)
  await migrate(db)
  // Days an older processor made ahead on 2030-11-28: four in November, one in December.
  for (const day of ['2030-11-27', '2030-11-28', '2030-11-29', '2030-11-30', '2030-12-01']) {
    const next = new Date(Date.parse(day) + DAY).toISOString().slice(0, 10)
    await db.query(
      `create table ticks_${day.replaceAll('-', '')} partition of ticks for values from ('${day}') to ('${next}')`,
    )
  }
  await store(db, historyItems('2030-11-27T00:00:00Z', 5, 1))
  const before = await totals(db)
  const day = (c: string) => `to_char(${c} at time zone 'UTC', 'YYYY-MM-DD')`
  const merges = await db.query<{ lo: string; hi: string }>(
    `select ${day('lo')} as lo, ${day('hi')} as hi from tickflow_ticks_merge_candidates('2030-11-28')`,
  )
  const widenings = await db.query<{ lo: string; hi: string }>(
    `select ${day('lo')} as lo, ${day('hi')} as hi from tickflow_ticks_widen_candidates('2030-11-28')`,
  )
  assert.deepEqual(merges, [{ lo: '2030-11-01', hi: '2030-12-01' }])
  assert.deepEqual(widenings, [{ lo: '2030-12-01', hi: '2031-01-01' }])
  const run = (fn: string, c: { lo: string; hi: string }) =>
    db.transaction((tx) => tx.query(`select ${fn}($1::timestamptz, $2::timestamptz)`, [c.lo, c.hi]))
  await run('tickflow_merge_ticks_partitions', merges[0]!)
  // Widening a range that holds two partitions does nothing.
  const [none] = await db.query<{ n: number }>(
    "select tickflow_widen_ticks_partition('2030-01-01', '2031-01-01') as n",
  )
  assert.equal(none!.n, 0)
  await run('tickflow_widen_ticks_partition', widenings[0]!)
  assert.deepEqual(await partitionNames(db), ['ticks_203011', 'ticks_203012'])
  assert.deepEqual(await totals(db), before)
  // A trade later in December lands in the month partition, not in a new one.
  await store(
    db,
    historyItems('2030-12-20T00:00:00Z', 1, 1).map((i) => ({ ...i, offset: 10n })),
  )
  assert.deepEqual(await partitionNames(db), ['ticks_203011', 'ticks_203012'])
  // A lone day with no room around it (partitions from older stores reach into its month from
  // both sides) stays as it is; nothing else is left to merge.
  await db.query(
    `create table ticks_20310210_20310315 partition of ticks for values from ('2031-02-10') to ('2031-03-15')`,
  )
  await db.query(
    `create table ticks_20310315 partition of ticks for values from ('2031-03-15') to ('2031-03-16')`,
  )
  await db.query(
    `create table ticks_20310316_20310410 partition of ticks for values from ('2031-03-16') to ('2031-04-10')`,
  )
  assert.deepEqual(await db.query(`select * from tickflow_ticks_merge_candidates('2030-11-28')`), [])
  assert.deepEqual(await db.query(`select * from tickflow_ticks_widen_candidates('2030-11-28')`), [])
})

test('the embedded store (PGlite) uses the same layout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-pglite-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(dir)
  t.after(() => db.close())
  await migrate(db)
  const items = historyItems('2001-01-01T00:00:00Z', 400, 10)
  await store(db, items)
  assert.equal((await totals(db)).n, '400')
  assert.equal((await listPartitions(db)).length, years(items))
})
