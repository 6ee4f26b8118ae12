// The small SQL surface the store needs, implemented by node-postgres (a PostgreSQL server) and by
// PGlite (PostgreSQL compiled to WASM, the embedded default). The SQL is the same for both.
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { PGlite } from '@electric-sql/pglite'
import { Worker } from 'node:worker_threads'
import { embeddedDiskFull } from './disk-full.ts'
import { seedPglite } from './pglite-seed.ts'
import { keepWasmAtBaseline } from './wasm-tier.ts'
import type { CopyRows } from './copy-text.ts'
import type { PgliteReply, PgliteRequest, SerializedError } from './pglite-protocol.ts'

export interface Queryable {
  query: <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>
  /** Runs a script of several statements without parameters (migrations). */
  exec: (sql: string) => Promise<void>
  /** COPY … FROM STDIN with text-format rows (UTF-8); PGlite falls back to an equivalent path. */
  copyIn: (sql: string, rows: CopyRows) => Promise<void>
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite'
  /**
   * COPY … TO STDOUT as a byte stream on its own connection (PostgreSQL only: the API's CSV export
   * streams through it without building rows). The connection is released when the stream closes.
   */
  copyOut?: (sql: string) => Promise<Readable>
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /**
   * PostgreSQL only: a transaction whose statements go out without waiting for each other's
   * replies (node-postgres's pipeline mode), BEGIN included, so a batch of small statements costs
   * one round trip instead of one each. No COPY. `fn` sends its statements and says whether to
   * commit; it must not throw for a statement's failure it handled (the transaction is then
   * aborted and `commit: true` fails on COMMIT).
   */
  pipelined?<T>(fn: (tx: Queryable) => Promise<{ commit: boolean; value: T }>): Promise<T>
  close(): Promise<void>
}

// numeric, int8 and timestamptz stay strings: exactness over convenience.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1700 || oid === 20 || oid === 1184 || oid === 1114) return (v: string) => v
    return pg.types.getTypeParser(oid, format) as (v: string) => unknown
  },
}

/**
 * Runs work one piece at a time, in the order given, whether or not an earlier piece failed: callers
 * may send a transaction's statements without waiting for each (as the store does), and the
 * connection still sees one at a time (node-postgres deprecates queuing several on one client;
 * the embedded store's thread runs each transaction through one of these).
 */
export function inOrder(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = tail.then(work, work)
    tail = next.catch(() => {})
    return next
  }
}

/** SQL text → statement name, for the statements registered with `prepared`. */
const statementNames = new Map<string, string>()

/**
 * Marks a statement the store sends for every batch: on PostgreSQL it is prepared once per
 * connection (a named statement) instead of parsed and planned each time (draining batches of 100
 * trades, alternating: 10.3 / 8.6 ms a batch against 10.8 / 10.2; docs/benchmarks.md). Returns the
 * text unchanged; PGlite runs it as before.
 */
export function prepared(sql: string): string {
  if (!statementNames.has(sql)) statementNames.set(sql, `tickflow_${statementNames.size + 1}`)
  return sql
}

function pgQueryable(
  client: pg.PoolClient | pg.Pool,
  serial: <T>(work: () => Promise<T>) => Promise<T> = (work) => work(),
): Queryable {
  return {
    query: <R>(sql: string, params?: unknown[]): Promise<R[]> =>
      serial(async () => {
        const res = await client.query({
          text: sql,
          values: params,
          types,
          name: statementNames.get(sql),
        } as pg.QueryConfig)
        return res.rows as R[]
      }),
    exec: (sql: string): Promise<void> => serial(async () => void (await client.query(sql))),
    copyIn: (sql: string, rows: CopyRows): Promise<void> =>
      serial(async () => {
        if (!('release' in client)) throw new Error('copyIn needs a transaction client')
        const stream = client.query(copyFrom(sql))
        await pipeline(Readable.from([rows]), stream)
      }),
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
  // Connections for pipelined transactions (no COPY there), opened only when one is first used.
  const pipelinedPool = new pg.Pool({
    connectionString: url,
    max: 2,
    application_name: options.applicationName ?? 'tickflow',
    pipeline: true,
  })
  pipelinedPool.on('error', () => {})
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
      // BEGIN, the function's statements and COMMIT or ROLLBACK go through one queue, so a rollback
      // comes after statements the function sent without waiting.
      const serial = inOrder()
      try {
        await serial(() => client.query('begin'))
        const out = await fn(pgQueryable(client, serial))
        await serial(() => client.query('commit'))
        return out
      } catch (err) {
        await serial(() => client.query('rollback')).catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e))
        })
        throw err
      } finally {
        client.off('error', onError)
        // A client whose rollback failed is discarded, not returned to the pool.
        client.release(broken)
      }
    },
    async pipelined<T>(fn: (tx: Queryable) => Promise<{ commit: boolean; value: T }>): Promise<T> {
      const client = await pipelinedPool.connect()
      const onError = (): void => {}
      client.on('error', onError)
      let broken: Error | undefined
      const noCopy = (): Promise<void> =>
        Promise.reject(new Error('COPY cannot run in a pipelined transaction'))
      try {
        const began = client.query('begin')
        began.catch(() => {}) // reported by the statements behind it, which then fail too
        const out = await fn({ ...pgQueryable(client), copyIn: noCopy })
        await began
        const end = await client.query(out.commit ? 'commit' : 'rollback')
        // COMMIT of a transaction a statement failed in rolls it back without an error.
        if (out.commit && end.command !== 'COMMIT') throw new Error(`the transaction ended in ${end.command}`)
        return out.value
      } catch (err) {
        await client.query('rollback').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e))
        })
        throw err
      } finally {
        client.off('error', onError)
        client.release(broken)
      }
    },
    close: async () => {
      await Promise.all([
        pool.ended ? undefined : pool.end(),
        pipelinedPool.ended ? undefined : pipelinedPool.end(),
      ])
    },
  }
}

/**
 * The embedded store: PGlite in its own thread (src/store/pglite-worker.ts), so its statements,
 * which run synchronously inside WebAssembly, overlap the main thread's work instead of blocking
 * its event loop. A new data directory first becomes a copy of the empty cluster template.
 * `optimize: false` keeps PGlite's WebAssembly at V8's baseline tier (src/store/wasm-tier.ts): about
 * half the peak memory, slower statements.
 */
export async function openPglite(dataDir: string, options: { optimize?: boolean } = {}): Promise<Db> {
  try {
    return await openPgliteThread(dataDir, options)
  } catch (err) {
    throw embeddedDiskFull(dataDir, err) ?? err
  }
}

async function openPgliteThread(dataDir: string, options: { optimize?: boolean }): Promise<Db> {
  await seedPglite(dataDir)
  if (options.optimize === false) keepWasmAtBaseline()
  const worker = new Worker(new URL('./pglite-worker.ts', import.meta.url), { workerData: { dataDir } })
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (err: Error) => void }>()
  let nextId = 1
  let nextTx = 1
  let stopped: Error | undefined
  // The thread keeps the process alive only while a request is waiting for it.
  const settle = (): void => void (pending.size === 0 ? worker.unref() : worker.ref())
  const stop = (err: Error): void => {
    stopped ??= err
    for (const p of pending.values()) p.reject(stopped)
    pending.clear()
    settle()
  }
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (reply: PgliteReply) => {
      if ('ready' in reply) return reply.ready ? resolve() : reject(deserializeError(reply.error))
      const p = pending.get(reply.id)
      if (!p) return
      pending.delete(reply.id)
      settle()
      if (reply.ok) p.resolve(reply.rows ?? [])
      else p.reject(deserializeError(reply.error))
    })
    worker.on('error', (err: Error) => {
      reject(err)
      stop(new Error(`the embedded database stopped: ${err.message}`))
    })
    worker.on('exit', () => {
      reject(new Error('the embedded database stopped while opening'))
      stop(new Error('the embedded database is closed'))
    })
  })
  try {
    await ready
  } catch (err) {
    await worker.terminate()
    throw err
  }
  settle()
  type Request = DistributiveOmit<PgliteRequest, 'id'>
  const call = (req: Request): Promise<unknown[]> => {
    if (stopped) return Promise.reject(stopped)
    const id = nextId++
    return new Promise<unknown[]>((resolve, reject) => {
      pending.set(id, { resolve, reject })
      settle()
      worker.postMessage({ ...req, id })
    })
  }
  const queryable = (tx?: number): Queryable => ({
    query: async <R>(sql: string, params?: unknown[]) =>
      (await call({ op: 'query', tx, sql, params })) as R[],
    exec: async (sql: string) => void (await call({ op: 'exec', tx, sql })),
    copyIn: async (sql: string, rows: CopyRows) => void (await call({ op: 'copyIn', tx, sql, rows })),
  })
  let closing: Promise<void> | undefined
  return {
    kind: 'pglite',
    ...queryable(),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const tx = nextTx++
      // The transaction's first statements follow BEGIN without waiting for it: the store thread
      // runs them in order, after it. A BEGIN that fails fails them too, and its error is the one
      // reported.
      const began = call({ op: 'begin', tx })
      began.catch(() => {})
      let result: T
      try {
        result = await fn(queryable(tx))
        await began
      } catch (err) {
        const beginError = await began.then(
          () => undefined,
          (e: unknown) => e,
        )
        if (beginError === undefined) await call({ op: 'rollback', tx }).catch(() => {})
        throw beginError ?? err
      }
      await call({ op: 'commit', tx })
      return result
    },
    close: () =>
      (closing ??= (async () => {
        if (stopped) return
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
        await call({ op: 'close' }).catch(() => {})
        // The thread ends by itself once PGlite has closed; a thread that does not is ended here.
        const timer = setTimeout(() => void worker.terminate(), 10_000)
        await exited
        clearTimeout(timer)
      })()),
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

function deserializeError(e: SerializedError): Error {
  const err = new Error(e.message)
  Object.assign(err, e.fields)
  return err
}

/**
 * PostgreSQL settings of the embedded store, on top of PGlite's own start parameters.
 * `shared_buffers` 32 MB instead of initdb's 128 MB: PGlite's WebAssembly memory only grows, so
 * every buffer a long run touches stays resident, and the files beneath are in the operating
 * system's cache anyway. It took 110 MiB off `tickflow up` (535-549 -> 425-435 MiB) and nothing
 * measurable off a 654,140-trade replay (docs/benchmarks.md, "Eighth pass").
 */
export const EMBEDDED_SETTINGS: readonly string[] = ['shared_buffers=32MB']

/** PGlite's start parameters with EMBEDDED_SETTINGS added. */
export function withEmbeddedSettings(defaults: readonly string[]): string[] {
  return [...defaults, ...EMBEDDED_SETTINGS.flatMap((setting) => ['-c', setting])]
}

/**
 * PGlite in the calling thread: the store's thread (`store: true`, with EMBEDDED_SETTINGS), and
 * the benchmark's COPY baseline (PGlite as it ships).
 */
export async function openPgliteHere(dataDir: string, options: { store?: boolean } = {}): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite')
  const startParams = options.store ? withEmbeddedSettings(PGlite.defaultStartParams) : undefined
  const db: PGlite = await PGlite.create({ dataDir, ...(startParams ? { startParams } : {}) })
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
    async copyIn(sql: string, rows: CopyRows): Promise<void> {
      await q.query(sql.replace(/from\s+stdin/i, "from '/dev/blob'"), [], { blob: new Blob([rows]) })
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
