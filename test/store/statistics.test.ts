// The embedded store's planner statistics. PGlite runs no autovacuum, so before this an embedded
// store was never analysed, and PostgreSQL planned every query as if its tables were empty: a page
// of trades (the API's keyset query with a limit) read and sorted every row of its range, 385,103
// rows for a page of 2,000 at 600,000 trades (about 450 ms a page; a CSV export of them took 214 s).
// Now the store is analysed as autovacuum would (50 rows + 10 % changed, at most once a minute),
// after a bulk load, and at open when it never was.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { EmbeddedStatistics } from '../../src/store/statistics.ts'
import { TickStore } from '../../src/store/ticks.ts'
import { tradesSql } from '../../src/api/queries.ts'
import { runCli } from '../support/cli.ts'
import { tradeFile } from '../cli/support.ts'

// Mid-month, an hour's range: one partition of ticks whatever the day the test runs (a range across
// two partitions is planned differently).
const START = Date.parse('2026-11-10T12:00:00Z')

async function store(t: TestContext): Promise<{ db: Db; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-statistics-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(join(dir, 'pglite'))
  t.after(() => db.close())
  await migrate(db)
  await new TickStore(db).createAhead(1, START)
  return { db, dir }
}

/** n more trades of AAA, one a millisecond from START, with their ids, written as plain SQL. */
async function addTrades(db: Db, from: number, n: number): Promise<void> {
  await db.exec(`
    insert into ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition)
      select 'AAA', to_timestamp(${START / 1000}) + i * interval '1 millisecond', 100, 1, 'replay', 'AAA-' || i, i, 0
        from generate_series(${from}, ${from + n - 1}) i;
    insert into trade_ids select 'replay', 'AAA-' || i from generate_series(${from}, ${from + n - 1}) i`)
}

const tuples = async (db: Db): Promise<number> =>
  Number(
    (
      await db.query<{ t: number }>("select reltuples::float8 as t from pg_class where relname = 'trade_ids'")
    )[0]!.t,
  )

/** Rows the scan under the API's page of `limit` trades read, from the plan as executed. */
async function rowsReadForPage(db: Db, limit: number): Promise<number> {
  const { text, values } = tradesSql({
    symbol: 'AAA',
    lo: new Date(START).toISOString(),
    hi: new Date(START + 3_600_000).toISOString(),
    order: 'asc',
    limit,
    after: { ts: new Date(START + 100_000).toISOString(), partition: 0, seq: '100000' },
  })
  const [row] = await db.query<{ 'QUERY PLAN': unknown }>(`explain (analyze, format json) ${text}`, values)
  const plan = row!['QUERY PLAN'] as [{ Plan: PlanNode }]
  let scanned = 0
  const walk = (node: PlanNode): void => {
    if (/Scan$/.test(node['Node Type']) && !node['Node Type'].startsWith('Bitmap Index'))
      scanned += node['Actual Rows']
    for (const child of node.Plans ?? []) walk(child)
  }
  walk(plan[0].Plan)
  return scanned
}

interface PlanNode {
  'Node Type': string
  'Actual Rows': number
  Plans?: PlanNode[]
}

test('a page of trades reads about its own rows once the store is analysed, all of its range before', async (t) => {
  const { db } = await store(t)
  await addTrades(db, 0, 200_000)
  assert.equal(await tuples(db), -1, 'never analysed')
  // Unanalysed, PostgreSQL sorts every row after the cursor for a page of 2,000.
  assert.equal(await rowsReadForPage(db, 2000), 99_999)
  const statistics = new EmbeddedStatistics(db)
  assert.equal(await statistics.open(), true)
  assert.equal(await tuples(db), 200_000)
  assert.ok((await rowsReadForPage(db, 2000)) <= 2001 + 1000)
})

test('an empty store is not analysed at open; one analysed before is not analysed again', async (t) => {
  const { db } = await store(t)
  assert.equal(await new EmbeddedStatistics(db).open(), false)
  await addTrades(db, 0, 1000)
  await db.exec('analyze trade_ids')
  assert.equal(await new EmbeddedStatistics(db).open(), false)
  assert.equal(await tuples(db), 1000)
})

test('rows stored while running are analysed as autovacuum would: 50 rows + 10 % changed', async (t) => {
  const { db } = await store(t)
  await addTrades(db, 0, 10_000)
  const analysed: number[] = []
  const statistics = new EmbeddedStatistics(db, {
    minIntervalMs: 0,
    onAnalysed: (rows) => analysed.push(rows),
  })
  await statistics.open()
  assert.deepEqual(analysed, [10_000])
  // 1,000 rows are not enough (50 + 10 % of 10,000 = 1,050) ...
  await addTrades(db, 10_000, 1000)
  statistics.stored(1000)
  await statistics.settle()
  assert.deepEqual(analysed, [10_000])
  // ... 1,100 are.
  await addTrades(db, 11_000, 100)
  statistics.stored(100)
  await statistics.settle()
  assert.deepEqual(analysed, [10_000, 11_100])
  assert.equal(await tuples(db), 11_100)
})

test('a bulk load is analysed once, at its end', async (t) => {
  const { db } = await store(t)
  const analysed: number[] = []
  const statistics = new EmbeddedStatistics(db, {
    periodic: false,
    minIntervalMs: 0,
    onAnalysed: (rows) => analysed.push(rows),
  })
  await statistics.open()
  for (let i = 0; i < 5; i++) {
    await addTrades(db, i * 2000, 2000)
    statistics.stored(2000)
  }
  assert.deepEqual(analysed, [])
  await statistics.settle()
  assert.deepEqual(analysed, [10_000])
})

test('tickflow replay leaves its store analysed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-statistics-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'trades.csv')
  tradeFile(file, 'AAA', 30_000, 10)
  const env = { KAFKA_BROKERS: '', DATABASE_URL: '', TICKFLOW_DATA_DIR: join(dir, 'data') }
  const replay = await runCli(['replay', file, '--speed', '0'], env)
  assert.equal(replay.code, 0, replay.output)
  const sql = await runCli(
    [
      'sql',
      '--csv',
      '-c',
      "select reltuples::int from pg_class where relname in ('trade_ids', 'ticks') order by relname",
    ],
    env,
  )
  assert.equal(sql.output.trim(), 'reltuples\n30000\n30000')
})
