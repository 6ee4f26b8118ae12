// Migrations from several processes at once on a new database (a `process` and a `serve` started
// together): every one of them succeeds and each version is applied exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPostgres } from '../../src/store/db.ts'
import { listMigrations, migrate } from '../../src/store/migrate.ts'
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
