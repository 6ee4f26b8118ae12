// A migrated store of either kind for one test, closed (and its database or directory removed)
// when the test ends.
import type { TestContext } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectPostgres, openPglite, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { createTestDatabase } from './postgres.ts'

export async function openTestStore(kind: 'postgres' | 'pglite', t: TestContext): Promise<Db> {
  let db: Db
  if (kind === 'postgres') {
    const d = await createTestDatabase()
    t.after(() => d.drop())
    db = connectPostgres(d.url)
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'tickflow-store-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    db = await openPglite(dir)
  }
  t.after(() => db.close())
  await migrate(db)
  return db
}
