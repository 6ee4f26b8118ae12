// The disk holding the store fills up. Seen before: a replay into the embedded store on a small
// file system logged "database write failed; retrying" every few seconds for as long as it was let
// run (killed after 120 s with 5,000 of the file's 21,313 trades stored); a new store on a disk
// too small for it stopped with "unexpected error: [object Object] [TF_INTERNAL]"; and the
// processor on Kafka retried PostgreSQL's "could not extend file" for ever, so the command looked
// alive while it stored nothing. Now each stops within seconds with one line naming the full disk
// (TF_DISK_FULL), nothing it had committed is lost, and the same command run again once space is
// freed stores the rest: every trade exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { connectPostgres } from '../../src/store/db.ts'
import { tableChecksum } from '../support/checksum.ts'
import { startCli } from '../support/cli.ts'
import { startThrowawayCluster } from '../support/postgres.ts'
import { assertExact, expectedChecksum, ingestArgs } from '../support/scenario.ts'
import { smallDisk, type SmallDisk } from '../support/small-disk.ts'
import { freePort, pipelineEnv, uniqueTopic } from '../support/topics.ts'
import { waitFor } from '../support/wait.ts'
import { exitWithin, tempDir, tradeFile } from '../cli/support.ts'

const lastLines = (output: string, n: number): string[] => {
  assert.doesNotMatch(output, /^ {4}at /m)
  assert.doesNotMatch(output, /\[object Object\]/)
  return output.trim().split('\n').slice(-n)
}

const fullLine =
  /^tickflow: the disk holding the embedded store is full \(could not extend file "[^"]+": No space left on device\): the batch in hand was not stored; free space \(tickflow purge --before TIME removes old history\), then run the command again to store the rest \[TF_DISK_FULL\]$/

/** `tickflow sql --csv` on the embedded store in the small disk's namespace: its lines. */
const tickflowSql = (disk: SmallDisk, data: string, sql: string): string[] =>
  disk
    .run(process.execPath, [
      join(import.meta.dirname, '../../bin/tickflow.js'),
      'sql',
      '--data-dir',
      data,
      '--csv',
      '-c',
      sql,
    ])
    .trim()
    .split('\n')

const summary = (produced: number, ticks: number, dead: number): string =>
  `tickflow: ${produced} trades produced; the store holds ${ticks} ticks and ${dead} dead letters (pglite)`

test('a new embedded store on a disk too small for it: one line, no half store, a run with space works', async (t) => {
  const disk = await smallDisk(t, 20)
  const file = join(tempDir(t, 'tickflow-full-'), 'trades.csv')
  tradeFile(file, 'AAA', 1_000, 1000)
  const data = join(disk.dir, 'data')
  const replay = (): ReturnType<typeof startCli> =>
    startCli(
      ['replay', file, '--speed', '0', '--data-dir', data],
      { KAFKA_BROKERS: '', DATABASE_URL: '' },
      undefined,
      disk.wrap,
    )
  const first = replay()
  assert.equal((await exitWithin(first, 60_000)).code, 1, first.output())
  const [line] = lastLines(first.output(), 1)
  assert.match(
    line!,
    new RegExp(
      `^tickflow: the disk holding the embedded store ${join(data, 'pglite')} is full \\(a new store needs \\d+\\.\\d MiB, \\d+\\.\\d MiB free\\): free space on it, then run the command again \\[TF_DISK_FULL\\]$`,
    ),
  )
  // The copy of the empty store appears whole or not at all: nothing half-made is left to open.
  assert.equal(disk.run('find', [disk.dir, '-mindepth', '1']).trim(), `${data}\n${join(data, 'pglite')}`)
  disk.resize(200)
  const second = replay()
  assert.equal((await exitWithin(second, 60_000)).code, 0, second.output())
  assert.equal(lastLines(second.output(), 1)[0], summary(1_000, 1_000, 0))
})

test('an embedded replay fills the disk: it stops within seconds, and after space is freed the same replay stores the rest once', async (t) => {
  const disk = await smallDisk(t, 60)
  const file = join(tempDir(t, 'tickflow-full-'), 'trades.csv')
  const n = 200_000
  tradeFile(file, 'AAA', n, 10)
  const data = join(disk.dir, 'data')
  const env = { KAFKA_BROKERS: '', DATABASE_URL: '' }
  const replay = (): ReturnType<typeof startCli> =>
    startCli(['replay', file, '--speed', '0', '--data-dir', data], env, undefined, disk.wrap)
  const count = (): { ticks: number; ids: number } => {
    const [ticks, ids] = tickflowSql(
      disk,
      data,
      'select count(*), (select count(*) from trade_ids) from ticks',
    )[1]!
      .split(',')
      .map(Number)
    return { ticks: ticks!, ids: ids! }
  }

  const first = replay()
  assert.equal((await exitWithin(first, 60_000)).code, 1, first.output())
  const [said, line] = lastLines(first.output(), 2)
  assert.match(line!, fullLine)
  const held =
    /^tickflow: \d+ trades produced; the store holds (\d+) ticks and 0 dead letters \(pglite\)$/.exec(said!)
  assert.ok(held, said)
  // A full disk leaves no room to open the store either; that is said as plainly.
  assert.throws(
    () => tickflowSql(disk, data, 'select 1'),
    (err: { stderr: string }) =>
      new RegExp(
        `^tickflow: the disk holding the embedded store ${join(data, 'pglite')} is full \\(\\d+ KiB free; PGlite needs about 16 MiB to open it\\): free space on it, then run the command again \\[TF_DISK_FULL\\]\n$`,
      ).test(err.stderr),
  )

  disk.resize(400)
  const stored = count()
  assert.equal(stored.ticks, Number(held[1]))
  assert.ok(stored.ticks > 0 && stored.ticks < n, `${stored.ticks} of ${n} stored before the disk filled`)
  assert.equal(stored.ids, stored.ticks)
  const second = replay()
  assert.equal((await exitWithin(second, 120_000)).code, 0, second.output())
  // The trades stored by the first run come again and are recognised by their ids.
  assert.equal(lastLines(second.output(), 1)[0], summary(n, n, stored.ticks))
  // Every trade of the file once: prices 1..n, each id once.
  const [, row] = tickflowSql(disk, data, 'select count(*), count(distinct trade_id), sum(price) from ticks')
  assert.equal(row, `${n},${n},${(n * (n + 1)) / 2}`)
})

test('PostgreSQL runs out of disk under tickflow process: it exits within seconds; after space is freed every trade is stored once', async (t) => {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
  const disk = await smallDisk(t, 24, { uid, gid })
  const port = await freePort()
  const pg = startThrowawayCluster(port, disk.wrap)
  t.after(() => pg.stop())
  const admin = connectPostgres(pg.adminUrl)
  t.after(() => admin.close())
  await admin.query(`create tablespace small location '${disk.dir}'`)
  await admin.query('create database full_disk tablespace small')
  const url = `postgres://postgres@127.0.0.1:${port}/full_disk`
  const topic = uniqueTopic('disk-full')
  const env = pipelineEnv(topic, url)
  const n = 150_000
  const ingest = startCli(ingestArgs(n, 50_000, 41), env)
  assert.equal((await exitWithin(ingest, 120_000)).code, 0, ingest.output())

  const first = startCli(['process'], env)
  t.after(() => void first.child.kill('SIGKILL'))
  assert.equal((await exitWithin(first, 90_000)).code, 1, first.output())
  const [line] = lastLines(first.output(), 1)
  assert.match(
    line!,
    /^tickflow: PostgreSQL's disk is full \(could not extend file "[^"]+": No space left on device\): the batch in hand was not stored; free space \(tickflow purge --before TIME removes old history\), then run the command again to store the rest \[TF_DISK_FULL\]$/,
  )
  const db = connectPostgres(url)
  t.after(() => db.close())
  const before = await tableChecksum(db)
  assert.ok(before.count < n, `${before.count} of ${n} stored before the disk filled`)
  // What is stored and the offsets stored with it agree: the next run starts right after them.
  const [offsets] = await db.query<{ next: string }>(
    'select coalesce(sum(next_offset), 0)::text as next from consumer_offsets',
  )
  assert.equal(Number(offsets!.next), before.count)

  disk.resize(400)
  const second = startCli(['process'], env)
  t.after(() => void second.child.kill('SIGKILL'))
  await waitFor(
    async () => (await tableChecksum(db)).count === n,
    120_000,
    () => `every trade stored:\n${second.output()}`,
  )
  second.child.kill('SIGTERM')
  assert.equal((await exitWithin(second, 30_000)).code, 0, second.output())
  await assertExact(db, expectedChecksum(n, 50_000, 41))
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '0')
})
