// The small SQL surface the store needs, implemented by node-postgres (a PostgreSQL server) and by
// PGlite (PostgreSQL compiled to WASM, the embedded default). The SQL is the same for both.
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { PGlite } from '@electric-sql/pglite'
import { seedPglite } from './pglite-seed.ts'

export interface Queryable {
  query: <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>
  /** Runs a script of several statements without parameters (migrations). */
  exec: (sql: string) => Promise<void>
  /** COPY … FROM STDIN with text-format rows; PGlite falls back to an equivalent path. */
  copyIn: (sql: string, text: string) => Promise<void>
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite'
  /**
   * COPY … TO STDOUT as a byte stream on its own connection (PostgreSQL only: the API's CSV export
   * streams through it without building rows). The connection is released when the stream closes.
   */
  copyOut?: (sql: string) => Promise<Readable>
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  close(): Promise<void>
}

// numeric, int8 and timestamptz stay strings: exactness over convenience.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1700 || oid === 20 || oid === 1184 || oid === 1114) return (v: string) => v
    return pg.types.getTypeParser(oid, format) as (v: string) => unknown
  },
}

function pgQueryable(client: pg.PoolClient | pg.Pool): Queryable {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
      const res = await client.query({ text: sql, values: params, types } as pg.QueryConfig)
      return res.rows as R[]
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql)
    },
    async copyIn(sql: string, text: string): Promise<void> {
      if (!('release' in client)) throw new Error('copyIn needs a transaction client')
      const stream = client.query(copyFrom(sql))
      await pipeline(Readable.from([text]), stream)
    },
  }
}

export function connectPostgres(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    application_name: options.applicationName ?? 'tickflow',
  })
  // A broken idle connection (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  const base = pgQueryable(pool)
  return {
    kind: 'postgres',
    query: base.query,
    exec: base.exec,
    copyIn() {
      throw new Error('copyIn is only available inside a transaction')
    },
    async copyOut(sql: string): Promise<Readable> {
      const client = await pool.connect()
      const onError = (): void => {} // surfaces as the stream's error
      client.on('error', onError)
      const stream = client.query(copyTo(sql))
      let ended = false
      stream.once('end', () => (ended = true))
      // A stream closed before its end (the reader went away) leaves the connection mid-COPY: it is
      // discarded rather than returned to the pool.
      stream.once('close', () => {
        client.off('error', onError)
        client.release(ended ? undefined : new Error('COPY abandoned'))
      })
      return stream
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect()
      // A connection lost mid-transaction (server restart) surfaces as the failing query's error;
      // without this listener node-postgres would also emit it as an unhandled 'error' event.
      const onError = (): void => {}
      client.on('error', onError)
      let broken: Error | undefined
      try {
        await client.query('begin')
        const out = await fn(pgQueryable(client))
        await client.query('commit')
        return out
      } catch (err) {
        await client.query('rollback').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e))
        })
        throw err
      } finally {
        client.off('error', onError)
        // A client whose rollback failed is discarded, not returned to the pool.
        client.release(broken)
      }
    },
    close: async () => {
      if (!pool.ended) await pool.end()
    },
  }
}

export async function openPglite(dataDir: string): Promise<Db> {
  await seedPglite(dataDir)
  const { PGlite } = await import('@electric-sql/pglite')
  const db: PGlite = await PGlite.create({ dataDir })
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
      const res = await q.query<R>(sql, params, {
        parsers: { 1700: (v) => v, 20: (v) => v, 1184: (v) => v, 1114: (v) => v },
      })
      return res.rows
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql)
    },
    async copyIn(sql: string, text: string): Promise<void> {
      await q.query(sql.replace(/from\s+stdin/i, "from '/dev/blob'"), [], { blob: new Blob([text]) })
    },
  })
  const base = wrap(db)
  return {
    kind: 'pglite',
    query: base.query,
    exec: base.exec,
    copyIn: base.copyIn,
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => db.transaction((tx) => fn(wrap(tx))),
    close: async () => {
      if (!db.closed) await db.close()
    },
  }
}
