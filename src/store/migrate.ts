// Applies the versioned SQL files in src/store/migrations (NNN_name.sql) in order, each in its own
// transaction, recording them in schema_migrations. Safe to run from several processes at once: an
// advisory lock serialises them, and applied versions are skipped.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TickflowError } from '../errors.ts'
import type { Db, Queryable } from './db.ts'
import { mergeDayPartitions } from './partitions.ts'

const dir = join(import.meta.dirname, 'migrations')
const LOCK_KEY = 7_240_001

export interface Migration {
  version: number
  name: string
  sql: string
}

export function listMigrations(): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f.slice(4, -4),
      sql: readFileSync(join(dir, f), 'utf8'),
    }))
}

/** Returns the versions it applied. */
export async function migrate(db: Db): Promise<number[]> {
  const applied: number[] = []
  // Under the lock too: two `create table if not exists` at once on a new database collide in
  // PostgreSQL's catalog (pg_type_typname_nsp_index) instead of one of them seeing the table.
  await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEY])
    await tx.query(
      'create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    )
    await refuseNewer(tx)
  })
  for (const m of listMigrations()) {
    // Day partitions of an older store are merged (migration 003) before later migrations touch
    // every partition of ticks in one transaction.
    if (m.version > 3) await mergeDayPartitions(db)
    await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEY])
      const done = await tx.query('select 1 from schema_migrations where version = $1', [m.version])
      if (done.length > 0) return
      await tx.exec(m.sql)
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name])
      applied.push(m.version)
    })
  }
  await mergeDayPartitions(db)
  return applied
}

/**
 * A store a newer tickflow has migrated may hold tables, columns or meanings this one does not
 * know, and writing to it could corrupt them: it is refused before anything is written, naming the
 * migrations this tickflow lacks. (Processes already running against it are not affected.)
 */
async function refuseNewer(db: Queryable): Promise<void> {
  const known = new Set(listMigrations().map((m) => m.version))
  const rows = await db.query<{ version: number; name: string }>(
    'select version, name from schema_migrations order by version',
  )
  const unknown = rows.filter((r) => !known.has(r.version))
  if (unknown.length === 0) return
  const names = unknown.map((r) => `${String(r.version).padStart(3, '0')}_${r.name}`).join(', ')
  throw new TickflowError(
    'TF_STORE_VERSION',
    `the store was migrated by a newer tickflow: it holds migration${unknown.length > 1 ? 's' : ''} ${names}, which this one does not know; run that version, or use another store`,
  )
}
