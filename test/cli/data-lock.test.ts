// One writer per embedded store: a second process on a held data directory stops before writing,
// naming the directory and the holder's pid; a dead holder's lock is taken over.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../../src/store/db.ts'
import { startCli } from '../support/cli.ts'
import {
  assertOneLine,
  readyUrl,
  exitWithin,
  noServices,
  outputMatches,
  runWithin,
  tempDir,
  tradeFile,
} from './support.ts'

async function stored(dataDir: string): Promise<{ symbol: string; n: string; sum: string }[]> {
  const db = await openPglite(join(dataDir, 'pglite'))
  try {
    return await db.query(
      'select symbol, count(*)::text as n, sum(price)::text as sum from ticks group by symbol order by symbol',
    )
  } finally {
    await db.close()
  }
}

test('two replays on one data directory: the first stores every trade, the second stops before writing', async (t) => {
  const dir = tempDir(t, 'tickflow-lock-')
  // 300 trades over 3 s of event time, replayed in real time: the first writer holds the store ~3 s.
  tradeFile(join(dir, 'a.csv'), 'AAA', 300, 10)
  tradeFile(join(dir, 'b.csv'), 'BBB', 200, 10)
  const first = startCli(['replay', 'a.csv', '--speed', '1'], noServices, dir)
  t.after(() => first.child.kill('SIGKILL'))
  await outputMatches(first, /dashboard http/, 60_000)
  const second = await runWithin(['replay', 'b.csv'], noServices, dir, 20_000)
  assert.equal(second.code, 1)
  assertOneLine(
    second.output,
    new RegExp(
      `^tickflow: data directory ${join(dir, 'data')} is in use by tickflow process ${first.child.pid}; .*--data-dir.* \\[TF_DATA_DIR_LOCKED\\]$`,
    ),
  )
  assert.equal((await exitWithin(first, 60_000)).code, 0, first.output())
  assert.match(first.output(), /300 trades produced; the store holds 300 ticks/)
  // sum of prices 1..300 = 45150: every trade of the first file, none of the second
  assert.deepEqual(await stored(join(dir, 'data')), [{ symbol: 'AAA', n: '300', sum: '45150' }])
  assert.equal(existsSync(join(dir, 'data/tickflow.lock')), false, 'the lock is released at exit')
})

test('a replay into the data directory of a running tickflow up is refused; up stops on SIGTERM', async (t) => {
  const dir = tempDir(t, 'tickflow-lock-up-')
  tradeFile(join(dir, 'b.csv'), 'BBB', 50, 10)
  const up = startCli(['up', '--rate', '20', '--symbols', 'UPA'], noServices, dir)
  t.after(() => up.child.kill('SIGKILL'))
  await readyUrl(up, 60_000)
  const replay = await runWithin(['replay', 'b.csv'], noServices, dir, 20_000)
  assert.equal(replay.code, 1)
  assertOneLine(
    replay.output,
    new RegExp(`in use by tickflow process ${up.child.pid};.*\\[TF_DATA_DIR_LOCKED\\]$`),
  )
  up.child.kill('SIGTERM')
  const { code } = await exitWithin(up, 10_000)
  assert.equal(code, 0, up.output())
  const rows = await stored(join(dir, 'data'))
  assert.deepEqual(
    rows.map((r) => r.symbol),
    ['UPA'],
    'nothing of the refused replay was stored',
  )
})

test('a lock left by a dead process is taken over', async (t) => {
  const dir = tempDir(t, 'tickflow-lock-stale-')
  tradeFile(join(dir, 'a.csv'), 'AAA', 100, 10)
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  })
  const deadPid = Number(dead.stdout)
  await runWithin(['migrate'], noServices, dir, 60_000) // creates data/
  writeFileSync(join(dir, 'data/tickflow.lock'), JSON.stringify({ pid: deadPid, host: hostname() }))
  const run = await runWithin(['replay', 'a.csv'], noServices, dir, 60_000)
  assert.equal(run.code, 0, run.output)
  assert.deepEqual(await stored(join(dir, 'data')), [{ symbol: 'AAA', n: '100', sum: '5050' }])
})
