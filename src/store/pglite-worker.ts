// The embedded store's thread: PGlite runs here, off the main thread, so its WebAssembly (every
// statement runs synchronously inside it) no longer blocks the main thread's event loop. The main
// thread meanwhile reads the source, serves the API and prepares the next batch. db.ts talks to
// this thread through the messages of pglite-protocol.ts.
import { parentPort, workerData } from 'node:worker_threads'
import { inOrder, openPgliteHere, type Db, type Queryable } from './db.ts'
import { serializeError, type PgliteReply, type PgliteRequest } from './pglite-protocol.ts'

/** Thrown inside a transaction's function to make PGlite roll it back. */
const ROLLBACK = new Error('rolled back')

interface OpenTx {
  q: Queryable
  end: (commit: boolean) => void
  done: Promise<void>
}

function serve(db: Db, port: NonNullable<typeof parentPort>): void {
  const txs = new Map<number, OpenTx>()
  /** Each transaction's statements, run one after another in the order sent. */
  const queues = new Map<number, ReturnType<typeof inOrder>>()
  const target = (tx: number | undefined): Queryable => {
    if (tx === undefined) return db
    const open = txs.get(tx)
    if (!open) throw new Error(`transaction ${tx} is not open`)
    return open.q
  }
  const begin = (tx: number): Promise<void> =>
    new Promise<void>((began, failed) => {
      let end: (commit: boolean) => void = () => {}
      const ended = new Promise<boolean>((resolve) => (end = resolve))
      const done = db
        .transaction(async (q) => {
          txs.set(tx, { q, end, done })
          began()
          if (!(await ended)) throw ROLLBACK
        })
        .catch((err: unknown) => {
          if (err !== ROLLBACK) throw err
        })
        .finally(() => txs.delete(tx))
      // A BEGIN that fails never reaches the function.
      done.catch(failed)
    })
  const finish = async (tx: number, commit: boolean): Promise<void> => {
    const open = txs.get(tx)
    if (!open) throw new Error(`transaction ${tx} is not open`)
    open.end(commit)
    await open.done
  }

  port.on('message', (req: PgliteRequest) => {
    const run = async (): Promise<unknown[] | undefined> => {
      switch (req.op) {
        case 'query':
          return target(req.tx).query(req.sql, req.params)
        case 'exec':
          return void (await target(req.tx).exec(req.sql))
        case 'copyIn':
          return void (await target(req.tx).copyIn(req.sql, req.rows))
        case 'begin':
          return void (await begin(req.tx))
        case 'commit':
        case 'rollback':
          return void (await finish(req.tx, req.op === 'commit'))
        case 'close':
          for (const open of txs.values()) open.end(false)
          await Promise.allSettled([...txs.values()].map((t) => t.done))
          return void (await db.close())
      }
    }
    // A transaction's statements run one after another in the order sent, so the main thread may
    // send several without waiting for each reply; statements outside transactions wait for
    // PGlite's own lock.
    const tx = 'tx' in req ? req.tx : undefined
    let result: Promise<unknown[] | undefined>
    if (tx === undefined) result = run()
    else {
      let queue = queues.get(tx)
      if (!queue) queues.set(tx, (queue = inOrder()))
      result = queue(run)
      if (req.op === 'commit' || req.op === 'rollback') queues.delete(tx)
    }
    result.then(
      (rows) => {
        port.postMessage({ id: req.id, ok: true, rows } satisfies PgliteReply)
        if (req.op === 'close') port.close()
      },
      (err: unknown) =>
        port.postMessage({ id: req.id, ok: false, error: serializeError(err) } satisfies PgliteReply),
    )
  })
}

if (parentPort) {
  const port = parentPort
  try {
    const db = await openPgliteHere((workerData as { dataDir: string }).dataDir, { store: true })
    serve(db, port)
    port.postMessage({ id: 0, ready: true } satisfies PgliteReply)
  } catch (err) {
    port.postMessage({ id: 0, ready: false, error: serializeError(err) } satisfies PgliteReply)
    port.close()
  }
}
