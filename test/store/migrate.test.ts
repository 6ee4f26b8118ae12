// Migrations from several processes at once on a new database (a `process` and a `serve` started
// together): every one of them succeeds and each version is applied exactly once. A store a newer
// tickflow migrated is refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { listMigrations, migrate } from '../../src/store/migrate.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'

test('six migrations at once on a new database: all succeed, each version applied once', async () => {
  const versions = listMigrations().map((m) => m.version)
  for (let round = 0; round < 4; round++) {
    const database = await createTestDatabase()
    const dbs = Array.from({ length: 6 }, () => connectPostgres(database.url))
    try {
      const applied = await Promise.all(dbs.map((db) => migrate(db)))
      assert.deepEqual(
        applied.flat().sort((a, b) => a - b),
        versions,
        `round ${round}`,
      )
      const rows = await dbs[0]!.query<{ version: number }>(
        'select version from schema_migrations order by 1',
      )
      assert.deepEqual(
        rows.map((r) => r.version),
        versions,
      )
    } finally {
      await Promise.all(dbs.map((db) => db.close()))
      await database.drop()
    }
  }
})

// A store a newer tickflow has migrated (a downgrade, or an older binary started beside a newer
// one on one database). Seen before: every command went on writing to it as if it knew the schema,
// whatever the newer migrations had changed.
test('a store migrated by a newer tickflow is refused before anything is written', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await db.query(
    'create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
  )
  await db.query(
    "insert into schema_migrations (version, name) values (998, 'market_calendar'), (999, 'ticks_v2')",
  )
  await assert.rejects(migrate(db), {
    code: 'TF_STORE_VERSION',
    message:
      'the store was migrated by a newer tickflow: it holds migrations 998_market_calendar, 999_ticks_v2, which this one does not know; run that version, or use another store',
  })
  const [tables] = await db.query<{ n: string }>(
    "select count(*)::text as n from information_schema.tables where table_schema = 'public'",
  )
  assert.equal(tables!.n, '1', 'only schema_migrations: no migration ran')

  const doctor = await runCli(['doctor'], { DATABASE_URL: database.url, KAFKA_BROKERS: '' })
  assert.match(
    doctor.output,
    /^FAIL migrations +a newer tickflow migrated this store \(migrations 998, 999 are unknown here\): run that version, or use another store$/m,
  )

  const cli = await runCli(['migrate'], { DATABASE_URL: database.url, KAFKA_BROKERS: '' })
  assert.equal(cli.code, 1, cli.output)
  assert.equal(
    cli.output.trim(),
    'tickflow: the store was migrated by a newer tickflow: it holds migrations 998_market_calendar, 999_ticks_v2, which this one does not know; run that version, or use another store [TF_STORE_VERSION]',
  )
})

test('an embedded store migrated by a newer tickflow: tickflow up exits with one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-newer-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const env = { DATABASE_URL: '', KAFKA_BROKERS: '', TICKFLOW_DATA_DIR: dir }
  const made = await runCli(['migrate'], env)
  assert.equal(made.code, 0, made.output)
  const sql = await runCli(
    ['sql', '-c', "insert into schema_migrations (version, name) values (999, 'ticks_v2')"],
    env,
  )
  assert.equal(sql.code, 0, sql.output)
  const up = await runCli(['up', '--rate', '0', '--count', '1000'], env)
  assert.equal(up.code, 1, up.output)
  assert.equal(
    up.output.trim().split('\n').at(-1),
    'tickflow: the store was migrated by a newer tickflow: it holds migration 999_ticks_v2, which this one does not know; run that version, or use another store [TF_STORE_VERSION]',
  )
  const count = await runCli(['sql', '--csv', '-c', 'select count(*) from ticks'], env)
  assert.equal(count.output.trim(), 'count\n0')
})
