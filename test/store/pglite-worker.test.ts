// The embedded store runs PGlite in its own thread: the main thread's event loop keeps turning
// during a statement, errors keep their SQLSTATE, transactions commit or roll back as a whole, the
// statements of a transaction sent without waiting run in order, and a process that never closes
// the store still exits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { openPglite, type Db } from '../../src/store/db.ts'

const run = promisify(execFile)

async function store(t: { after: (fn: () => unknown) => void }): Promise<Db> {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-pglite-worker-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const db = await openPglite(dir)
  t.after(() => db.close())
  await db.exec('create table t (id int primary key, v text)')
  return db
}

test('a 300 ms statement leaves the event loop free: timers fire while PGlite works', async (t) => {
  const db = await store(t)
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  await db.query('select pg_sleep(0.3)')
  clearInterval(timer)
  // In the main thread the sleep blocked every timer (0 ticks); here about 30 fire.
  assert.ok(ticks >= 10, `only ${ticks} timer ticks during a 300 ms statement`)
})

test('errors keep their SQLSTATE and message; a failed transaction leaves nothing behind', async (t) => {
  const db = await store(t)
  await db.query('insert into t values (1, $1)', ['one'])
  await assert.rejects(
    db.query('insert into t values (1, $1)', ['again']),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, '23505')
      assert.match(err.message, /duplicate key/)
      return true
    },
  )
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('insert into t values (2, $1)', ['two'])
      throw new Error('the batch failed')
    }),
    /the batch failed/,
  )
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('insert into t values (3, $1)', ['three'])
      await tx.query('insert into t values (1, $1)', ['clash'])
    }),
    (err: Error & { code?: string }) => err.code === '23505',
  )
  const committed = await db.transaction(async (tx) => {
    await tx.copyIn('copy t (id, v) from stdin', '4\tfour\n5\tfive\n')
    return tx.query<{ n: number }>('select count(*)::int as n from t')
  })
  assert.deepEqual(committed, [{ n: 3 }])
  assert.deepEqual(await db.query('select id, v from t order by id'), [
    { id: 1, v: 'one' },
    { id: 4, v: 'four' },
    { id: 5, v: 'five' },
  ])
})

test('statements of a transaction sent at once run in order; a query outside waits for the commit', async (t) => {
  const db = await store(t)
  let outside: Promise<{ n: number }[]> | undefined
  const inside = await db.transaction(async (tx) => {
    const sent = [
      tx.query('insert into t values (1, $1)', ['a']),
      tx.query("update t set v = v || 'b' where id = 1"),
      tx.exec('savepoint s'),
      tx.copyIn('copy t (id, v) from stdin', '2\tc\n'),
      tx.query<{ v: string }>("select string_agg(v, ',' order by id) as v from t"),
    ] as const
    outside = db.query<{ n: number }>('select count(*)::int as n from t')
    const [, , , , rows] = await Promise.all(sent)
    return rows
  })
  assert.deepEqual(inside, [{ v: 'ab,c' }])
  assert.deepEqual(await outside, [{ n: 2 }])
})

test('a process that opens the store and never closes it still exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-pglite-worker-exit-'))
  try {
    const script = `
      import { openPglite } from ${JSON.stringify(new URL('../../src/store/db.ts', import.meta.url).href)}
      const db = await openPglite(${JSON.stringify(join(dir, 'store'))})
      const [row] = await db.query('select 41 + 1 as n')
      console.log(row.n)`
    writeFileSync(join(dir, 'open.mjs'), script)
    const { stdout } = await run(process.execPath, [join(dir, 'open.mjs')], { timeout: 60_000 })
    assert.equal(stdout.trim(), '42')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
