// SQL typed by a person against the store: the embedded PGlite data directory or the PostgreSQL of
// DATABASE_URL. Every value comes back in PostgreSQL's own text form (numerics exact, timestamps as
// the server prints them, in UTC), never through JavaScript numbers or dates. The embedded store can
// also be served on the PostgreSQL wire protocol (pglite-socket) so psql and BI tools connect to it;
// only on a loopback address, as it has no passwords.
import { existsSync } from 'node:fs'
import { isIP } from 'node:net'
import pg from 'pg'
import type { PGlite } from '@electric-sql/pglite'
import { ConfigError, TickflowError, errorMessage } from '../errors.ts'
import { withEmbeddedSettings } from './db.ts'
import { embeddedDiskFull } from './disk-full.ts'

export interface SqlResult {
  /** Column names and whether the column is numeric (right-aligned in a table). */
  fields: { name: string; numeric: boolean }[]
  rows: (string | null)[][]
}

export interface SqlSession {
  /** Runs one or more statements; one result per statement that returns rows. */
  run(sql: string): Promise<SqlResult[]>
  close(): Promise<void>
}

// int2, int4, int8, oid, float4, float8, money, numeric
const numericOids = new Set([20, 21, 23, 26, 700, 701, 790, 1700])
const asText = (v: string): string => v
function sqlError(err: unknown): TickflowError {
  return new TickflowError('TF_SQL', `SQL failed: ${errorMessage(err)}`, { cause: err })
}

export class NoStoreError extends TickflowError {
  constructor(dir: string) {
    super(
      'TF_NO_STORE',
      `no embedded store in ${dir}: run tickflow up or tickflow replay first, or set DATABASE_URL`,
    )
  }
}

/** Opens the embedded store of a data directory; refuses to create one where there is none. */
export async function openEmbedded(dir: string): Promise<PGlite> {
  if (!existsSync(dir)) throw new NoStoreError(dir)
  const { PGlite } = await import('@electric-sql/pglite')
  const db = await PGlite.create({
    dataDir: dir,
    startParams: withEmbeddedSettings(PGlite.defaultStartParams),
  }).catch((err: unknown) => {
    throw embeddedDiskFull(dir, err) ?? err
  })
  await db.exec("set time zone 'UTC'")
  return db
}

async function pgliteSession(db: PGlite): Promise<SqlSession> {
  // PGlite parses by type oid with its own table merged in; naming every type the database knows
  // (arrays and user types too) keeps all of them as text.
  const types = await db.query<[number]>('select oid::int from pg_type', [], { rowMode: 'array' })
  const parsers = Object.fromEntries(types.rows.map(([oid]) => [oid, asText]))
  return {
    async run(sql) {
      try {
        const results = await db.exec(sql, { rowMode: 'array', parsers })
        return results
          .filter((r) => r.fields.length > 0)
          .map((r) => ({
            fields: r.fields.map((f) => ({ name: f.name, numeric: numericOids.has(f.dataTypeID) })),
            rows: r.rows as unknown as (string | null)[][],
          }))
      } catch (err) {
        throw sqlError(err)
      }
    },
    close: () => db.close(),
  }
}

async function postgresSession(url: string): Promise<SqlSession> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'tickflow-sql',
    options: '-c TimeZone=UTC',
  })
  try {
    await client.connect()
  } catch (err) {
    throw new TickflowError('TF_POSTGRES', `cannot connect to DATABASE_URL: ${errorMessage(err)}`, {
      cause: err,
    })
  }
  const types = { getTypeParser: () => asText }
  return {
    async run(sql) {
      let out: pg.QueryArrayResult | pg.QueryArrayResult[]
      try {
        out = (await client.query({ text: sql, rowMode: 'array', types } as pg.QueryArrayConfig)) as
          pg.QueryArrayResult | pg.QueryArrayResult[]
      } catch (err) {
        throw sqlError(err)
      }
      return (Array.isArray(out) ? out : [out])
        .filter((r) => r.fields.length > 0)
        .map((r) => ({
          fields: r.fields.map((f) => ({ name: f.name, numeric: numericOids.has(f.dataTypeID) })),
          rows: r.rows as (string | null)[][],
        }))
    },
    close: () => client.end(),
  }
}

/** A session on PostgreSQL when a URL is given, else on the embedded store in `dir`. */
export async function openSqlSession(target: { databaseUrl?: string; dir: string }): Promise<SqlSession> {
  if (target.databaseUrl) return postgresSession(target.databaseUrl)
  return await pgliteSession(await openEmbedded(target.dir))
}

/** `PORT` or `HOST:PORT` (HOST a loopback address) → where to listen; anything else is refused. */
export function listenAddress(spec: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(spec)
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535)
    throw new ConfigError(`invalid --listen ${JSON.stringify(spec)}: expected PORT or 127.0.0.1:PORT`)
  const host = (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1')
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1'
  if (!loopback)
    throw new ConfigError(
      `invalid --listen ${JSON.stringify(spec)}: the embedded store has no passwords, so it is served on localhost only (127.0.0.1 or ::1)`,
    )
  return { host: host === 'localhost' ? '127.0.0.1' : host, port }
}

export interface SqlServer {
  host: string
  port: number
  close(): Promise<void>
}

/** Serves the embedded store of `dir` on the PostgreSQL wire protocol until closed. */
export async function serveEmbedded(dir: string, at: { host: string; port: number }): Promise<SqlServer> {
  const db = await openEmbedded(dir)
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  // PGlite runs one query at a time; the server queues the connections' queries onto it.
  const server = new PGLiteSocketServer({ db, host: at.host, port: at.port, maxConnections: 16 })
  try {
    await server.start()
  } catch (err) {
    await db.close()
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EADDRINUSE' ? 'the port is in use' : errorMessage(err)
    throw new ConfigError(`invalid --listen ${at.host}:${at.port}: ${why}`)
  }
  const conn = server.getServerConn()
  return {
    host: at.host,
    port: Number(conn.slice(conn.lastIndexOf(':') + 1)),
    async close() {
      await server.stop()
      await db.close()
    },
  }
}
