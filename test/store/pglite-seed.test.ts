// A new embedded store is a copy of an empty cluster made once per PGlite version in the user's
// cache directory, not a fresh initdb each time: the template holds no tickflow table, each store
// copied from it keeps its own data, nothing half-made is left behind, and a cache directory that
// cannot be written only costs the time (the store is initialised in place, every trade stored);
// stores made at once agree on one template.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../support/cli.ts'

const T0 = Date.parse('2026-11-24T15:00:00Z')
const trades = (n: number, symbol: string): string =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ symbol, ts: new Date(T0 + i * 1000).toISOString(), price: `10.${i % 10}1`, size: '1' }),
  ).join('\n') + '\n'

/**
 * Runs a query on an embedded store the way a user does, with `tickflow sql` in its own process:
 * the test process itself never opens PGlite, since opening and closing many PGlite instances in
 * one process can crash V8 (nodejs/node#64500). Rows as CSV lines, header first.
 */
async function sql(dataDir: string, query: string): Promise<string[]> {
  const r = await runCli(['sql', '-c', query, '--csv'], {
    KAFKA_BROKERS: '',
    DATABASE_URL: '',
    TICKFLOW_DATA_DIR: dataDir,
  })
  assert.equal(r.code, 0, r.output)
  return r.output.trim().split('\n')
}

async function stored(dataDir: string): Promise<Record<string, string>> {
  const [, ...rows] = await sql(
    dataDir,
    'select symbol, count(*) as n from ticks group by symbol order by symbol',
  )
  return Object.fromEntries(rows.map((line) => line.split(',') as [string, string]))
}

test('new embedded stores are copies of one template; each keeps its own data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-seed-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const cache = join(dir, 'cache')
  writeFileSync(join(dir, 'a.ndjson'), trades(30, 'AAA'))
  writeFileSync(join(dir, 'b.ndjson'), trades(45, 'BBB'))
  const replay = (file: string, store: string, xdg: string) =>
    runCli(['replay', join(dir, file), '--speed', '0'], {
      KAFKA_BROKERS: '',
      DATABASE_URL: '',
      TICKFLOW_DATA_DIR: join(dir, store),
      XDG_CACHE_HOME: xdg,
    })

  const a = await replay('a.ndjson', 'store-a', cache)
  assert.equal(a.code, 0, a.output)
  const made = readdirSync(join(cache, 'tickflow'))
  assert.equal(made.length, 1, `one template and no scratch left: ${made.join(', ')}`)
  assert.match(made[0]!, /^pglite-\d+\.\d+\.\d+$/)
  const template = join(cache, 'tickflow', made[0]!)
  assert.ok(existsSync(join(template, 'PG_VERSION')))

  const b = await replay('b.ndjson', 'store-b', cache)
  assert.equal(b.code, 0, b.output)
  assert.deepEqual(readdirSync(join(cache, 'tickflow')), made)
  assert.deepEqual(await stored(join(dir, 'store-a')), { AAA: '30' })
  assert.deepEqual(await stored(join(dir, 'store-b')), { BBB: '45' })

  // The template is still an empty cluster: no store's tables or rows went into it.
  const look = join(dir, 'template-copy')
  cpSync(template, join(look, 'pglite'), { recursive: true })
  assert.deepEqual(await sql(look, "select coalesce(to_regclass('ticks')::text, 'none') as t"), ['t', 'none'])

  // Three new stores at once on an empty cache: one template, every store whole.
  const fresh = join(dir, 'cache-2')
  const at = await Promise.all(['d', 'e', 'f'].map((x) => replay('a.ndjson', `store-${x}`, fresh)))
  for (const r of at) assert.equal(r.code, 0, r.output)
  assert.deepEqual(readdirSync(join(fresh, 'tickflow')), made)
  for (const x of ['d', 'e', 'f']) assert.deepEqual(await stored(join(dir, `store-${x}`)), { AAA: '30' })

  // A cache path that cannot be a directory: the store is initialised in place, nothing lost.
  const blocked = join(dir, 'not-a-dir')
  writeFileSync(blocked, '')
  const c = await replay('a.ndjson', 'store-c', blocked)
  assert.equal(c.code, 0, c.output)
  assert.deepEqual(await stored(join(dir, 'store-c')), { AAA: '30' })
  for (const store of ['store-a', 'store-b', 'store-c', 'store-d', 'store-e', 'store-f'])
    assert.deepEqual(
      readdirSync(join(dir, store)).filter((f) => f.startsWith('pglite')),
      ['pglite'],
      `no scratch copy beside ${store}'s database`,
    )
})
