// tickflow sql: queries on the embedded store and on PostgreSQL print exact values as a table or CSV;
// --listen serves the embedded store to the real psql and to node-postgres, on localhost only.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { openPglite, connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { runCli, startCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { root } from '../support/kafka.ts'

const embedded = { KAFKA_BROKERS: '', DATABASE_URL: '' }
const query =
  'select symbol, ts, price, size, trade_id from ticks order by ts, ingest_seq; select 2::int8 * 3 as six'

/** Three trades whose text needs care: trailing zeros, microseconds, a comma and a quote, a NULL. */
async function seed(db: Db): Promise<void> {
  await migrate(db)
  await db.query("select tickflow_ensure_day_partition('2026-11-24')")
  await db.query(
    `insert into ticks (symbol, ts, price, size, source, trade_id, ingest_seq, kafka_partition) values
     ('AAPL', '2026-11-24T14:30:00.123456Z', 189.230, 100, 'replay', 'a,"1"', 1, 0),
     ('AAPL', '2026-11-24T14:30:01Z', 189.25, 0.5, 'replay', null, 2, 0),
     ('MSFT', '2026-11-24T14:30:02.5Z', 418.3525, 25, 'replay', 'm-3', 3, 1)`,
  )
}

const table = `\
 symbol |              ts               |  price   | size | trade_id
--------+-------------------------------+----------+------+----------
 AAPL   | 2026-11-24 14:30:00.123456+00 |  189.230 |  100 | a,"1"
 AAPL   | 2026-11-24 14:30:01+00        |   189.25 |  0.5 |
 MSFT   | 2026-11-24 14:30:02.5+00      | 418.3525 |   25 | m-3
(3 rows)

 six
-----
   6
(1 row)
`

const csv = `\
symbol,ts,price,size,trade_id
AAPL,2026-11-24 14:30:00.123456+00,189.230,100,"a,""1"""
AAPL,2026-11-24 14:30:01+00,189.25,0.5,
MSFT,2026-11-24 14:30:02.5+00,418.3525,25,m-3

six
6
`

async function embeddedStore(t: { after: (fn: () => void) => void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-sql-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'data/pglite'), { recursive: true })
  const db = await openPglite(join(dir, 'data/pglite'))
  try {
    await seed(db)
  } finally {
    await db.close()
  }
  return dir
}

test(
  'tickflow sql -c on the embedded store prints exact values as a table and as CSV',
  { timeout: 60_000 },
  async (t) => {
    const dir = await embeddedStore(t)
    const asTable = await runCli(['sql', '-c', query], embedded, dir)
    assert.equal(asTable.code, 0, asTable.output)
    assert.equal(asTable.output, table)
    const asCsv = await runCli(['sql', '--csv', '-c', query], embedded, dir)
    assert.equal(asCsv.code, 0, asCsv.output)
    assert.equal(asCsv.output, csv)
    // SQL on standard input, as in `echo "…" | tickflow sql`.
    const child = spawn(process.execPath, [join(root, 'bin/tickflow.js'), 'sql', '--csv'], {
      cwd: dir,
      env: { ...process.env, ...embedded, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stdin.end('select count(*) as n, sum(price) as total from ticks')
    const [code] = (await once(child, 'exit')) as [number]
    assert.equal(code, 0)
    assert.equal(out, 'n,total\n3,796.8325\n')
  },
)

test(
  'tickflow sql refuses with one line: a bad query, no store, a non-local --listen',
  { timeout: 60_000 },
  async (t) => {
    const dir = await embeddedStore(t)
    const empty = mkdtempSync(join(tmpdir(), 'tickflow-sql-empty-'))
    t.after(() => rmSync(empty, { recursive: true, force: true }))
    const cases: [string[], string, string][] = [
      [['-c', 'select * from nope'], dir, 'tickflow: SQL failed: relation "nope" does not exist [TF_SQL]'],
      [
        ['-c', 'select 1'],
        empty,
        `tickflow: no embedded store in ${join(empty, 'data/pglite')}: run tickflow up or tickflow replay first, or set DATABASE_URL [TF_NO_STORE]`,
      ],
      [
        ['--listen', '0.0.0.0:5432'],
        dir,
        'tickflow: invalid --listen "0.0.0.0:5432": the embedded store has no passwords, so it is served on localhost only (127.0.0.1 or ::1) [TF_CONFIG]',
      ],
      [
        ['--listen', '192.168.1.20:0'],
        dir,
        'tickflow: invalid --listen "192.168.1.20:0": the embedded store has no passwords, so it is served on localhost only (127.0.0.1 or ::1) [TF_CONFIG]',
      ],
      [
        ['--listen', 'many'],
        dir,
        'tickflow: invalid --listen "many": expected PORT or 127.0.0.1:PORT [TF_CONFIG]',
      ],
      [['--frobnicate'], dir, "tickflow: Unknown option '--frobnicate' (tickflow sql --help) [TF_USAGE]"],
    ]
    for (const [args, cwd, line] of cases) {
      const run = await runCli(['sql', ...args], embedded, cwd)
      assert.notEqual(run.code, 0, run.output)
      assert.equal(run.output.trimEnd(), line)
    }
  },
)

test(
  'tickflow sql -c on PostgreSQL (DATABASE_URL) prints the same as on the embedded store',
  { timeout: 60_000 },
  async (t) => {
    const database = await createTestDatabase()
    t.after(() => database.drop())
    const db = connectPostgres(database.url)
    try {
      await seed(db)
    } finally {
      await db.close()
    }
    const run = await runCli(['sql', '-c', query], { KAFKA_BROKERS: '', DATABASE_URL: database.url })
    assert.equal(run.code, 0, run.output)
    assert.equal(run.output, table)
  },
)

test(
  'tickflow sql --listen: psql and node-postgres read the embedded store; SIGTERM stops it',
  { timeout: 90_000 },
  async (t) => {
    const dir = await embeddedStore(t)
    const server = startCli(['sql', '--listen', '0'], embedded, dir)
    t.after(() => void server.child.kill('SIGKILL'))
    let port = 0
    for (const deadline = Date.now() + 30_000; port === 0; await new Promise((r) => setTimeout(r, 100))) {
      const m = /^serving .* on postgresql:\/\/127\.0\.0\.1:(\d+)\/postgres/m.exec(server.output())
      if (m) port = Number(m[1])
      assert.ok(Date.now() < deadline, `not listening: ${server.output()}`)
    }
    const psql = await promisify(execFile)(
      'psql',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-At',
        '-c',
        'select count(*), sum(size), max(price) from ticks',
      ],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '10', PGPASSWORD: '' } },
    )
    assert.equal(psql.stdout, '3|125.5|418.3525\n')
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })
    await client.connect()
    try {
      const res = await client.query<{ n: string; symbols: string }>(
        "select count(*)::text as n, string_agg(distinct symbol, ',' order by symbol) as symbols from ticks",
      )
      assert.deepEqual(res.rows, [{ n: '3', symbols: 'AAPL,MSFT' }])
    } finally {
      await client.end()
    }
    server.child.kill('SIGTERM')
    const exit = await Promise.race([
      server.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000)),
    ])
    assert.deepEqual(exit, { code: 0, signal: null }, server.output())
  },
)
