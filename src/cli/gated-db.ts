// A Db that waits for the real one: the HTTP server binds its port before the database is opened
// and migrated (a port in use must stop a service before it writes), and requests that arrive in
// between wait for the database, or fail with its start-up error.
import type { Db, Queryable } from '../store/db.ts'

export interface DbGate {
  db: Db
  open(db: Db): void
  fail(err: unknown): void
}

export function gatedDb(kind: Db['kind']): DbGate {
  const { promise, resolve, reject } = Promise.withResolvers<Db>()
  promise.catch(() => {}) // a start-up failure is reported by the command, not as unhandled
  const db: Db = {
    kind,
    query: async (sql, params) => (await promise).query(sql, params),
    exec: async (sql) => (await promise).exec(sql),
    copyIn: async (sql, rows) => (await promise).copyIn(sql, rows),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => (await promise).transaction(fn),
    close: async () => {},
    // Known before the database opens: PostgreSQL streams CSV exports by COPY, PGlite pages them.
    ...(kind === 'postgres' ? { copyOut: async (sql: string) => (await promise).copyOut!(sql) } : {}),
  }
  return { db, open: resolve, fail: reject }
}
