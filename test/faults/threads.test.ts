// `tickflow process --threads N`: N consumers of the group in one process. A SIGKILL of the whole
// process mid-stream and a restart with another thread count lose and duplicate nothing; /metrics
// sums the threads' counters exactly; SIGTERM stops every thread; a thread that cannot start stops
// the process with one line naming the thread.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { Admin } from '@platformatic/kafka'
import { createTestDatabase } from '../support/postgres.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { freePort, testBrokers, uniqueTopic } from '../support/topics.ts'
import { waitFor, waitGroupMembers } from '../support/wait.ts'
import { assertExact, expectedChecksum, ingestArgs, waitCaughtUp } from '../support/scenario.ts'
import { exitWithin, noServices, runWithin, tempDir } from '../cli/support.ts'

const N = 120_000

/** The value of each series of `name` on a /metrics page, by its label text ('' when none). */
function series(page: string, name: string): Map<string, number> {
  const found = new Map<string, number>()
  for (const line of page.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m?.[1] === name) found.set(m[2] ?? '', Number(m[3]))
  }
  return found
}

test('one process with three threads, killed mid-stream and restarted with two, stores every trade once', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('threads')
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers })
  await bus.ensureTopic({ name: topic, partitions: 6 })
  await bus.close()
  const port = await freePort()
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: 'threads',
    DATABASE_URL: database.url,
  }
  const served = { ...env, HTTP_PORT: String(port) }
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const stored = async (): Promise<number> =>
    Number((await db.query<{ n: string }>('select count(*)::text as n from ticks'))[0]!.n)

  const procs: CliProcess[] = [startCli(['process', '--threads', '3'], served)]
  t.after(() => procs.forEach((p) => p.child.kill('SIGKILL')))
  // Three members of the group, all from the one process.
  await waitGroupMembers(brokers, 'threads', topic, 3, 120_000, procs[0]!.output)
  const ingest = startCli(ingestArgs(N, 20_000, 31), env)
  t.after(() => ingest.child.kill('SIGKILL'))
  await waitFor(
    async () => (await stored()) >= 30_000,
    120_000,
    () => `30,000 stored: ${procs[0]!.output()} ${ingest.output()}`,
  )
  procs[0]!.child.kill('SIGKILL')
  await procs[0]!.exited
  const atKill = await stored()
  assert.ok(atKill < N, `killed before the end (${atKill} stored)`)

  procs.push(startCli(['process', '--threads', '2'], served))
  await waitGroupMembers(brokers, 'threads', topic, 2, 120_000, procs[1]!.output)
  assert.equal((await ingest.exited).code, 0, ingest.output())
  await waitCaughtUp(brokers, db, 'threads', topic, 120_000, procs[1]!.output)
  await assertExact(db, expectedChecksum(N, 20_000, 31))

  // The restarted process's counters are its two threads' summed: exactly the trades it stored.
  // Each thread refreshes its lag gauges every second: the page is read until they say caught up.
  const url = `http://127.0.0.1:${port}/metrics`
  const page = await waitFor(
    async () => {
      const text = await (await fetch(url)).text()
      const lag = series(text, 'tickflow_consumer_lag')
      return lag.size === 6 && [...lag.values()].every((v) => v === 0) && text
    },
    30_000,
    () => 'six lag series, all 0',
  )
  assert.deepEqual([...series(page, 'tickflow_ticks_persisted_total').values()], [N - atKill], page)
  const batches = series(page, 'tickflow_batch_size_sum')
  assert.deepEqual(
    [...batches.values()],
    [N - atKill + (series(page, 'tickflow_duplicates_skipped_total').get('') ?? 0)],
  )
  // The process's resident memory is the process's, not a sum over threads.
  const [rss] = series(page, 'process_resident_memory_bytes').values()
  const status = readFileSync(`/proc/${procs[1]!.child.pid}/status`, 'utf8')
  const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
  assert.ok(
    rss! > 0.5 * vmRss && rss! < 1.5 * vmRss,
    `process_resident_memory_bytes ${rss} vs VmRSS ${vmRss}`,
  )

  procs[1]!.child.kill('SIGTERM')
  const { code } = await exitWithin(procs[1]!, 10_000)
  assert.equal(code, 0, procs[1]!.output())
  assert.doesNotMatch(procs[1]!.output(), /"level":50|did not stop|will hold no partition/)
  // Both threads left the group on the way out (not dropped later by session timeout).
  const admin = new Admin({ clientId: 'test-threads', bootstrapBrokers: brokers, retries: 0 })
  t.after(() => admin.close())
  const group = (await admin.describeGroups({ groups: ['threads'] })).get('threads')
  assert.equal(group?.members.size, 0, `members after SIGTERM: ${group?.state}`)
  assert.equal(await stored(), N)
})

test('more threads than partitions: the process warns once, naming both, and runs', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('threads-idle')
  const group = `${topic}-group`
  const brokers = testBrokers()
  const bus = createKafkaBus({ brokers })
  await bus.ensureTopic({ name: topic, partitions: 1 })
  await bus.close()
  const p = startCli(['process', '--threads', '2'], {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
    HTTP_PORT: String(await freePort()),
    LOG_FORMAT: 'json',
  })
  t.after(() => p.child.kill('SIGKILL'))
  // Both threads join: one holds the partition, the other is a member without one, not a failure.
  await waitGroupMembers(brokers, group, topic, 2, 120_000, p.output, 1)
  const warnings = p
    .output()
    .split('\n')
    .filter((l) => l.includes('will hold no partition'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.equal(warnings.length, 1, p.output())
  assert.equal(warnings[0]!.level, 40)
  assert.equal(
    warnings[0]!.msg,
    '2 threads for 1 partition: 1 will hold no partition (add partitions or run fewer threads)',
  )
  assert.deepEqual([warnings[0]!.threads, warnings[0]!.partitions, warnings[0]!.topic], [2, 1, topic])
  p.child.kill('SIGTERM')
  const { code } = await exitWithin(p, 10_000)
  assert.equal(code, 0, p.output())
})

test('a processor thread that cannot connect stops the process with one line naming it', async (t) => {
  const database = await createTestDatabase()
  // A role allowed one connection: the main thread's; the threads' own connections are refused.
  const role = `tf_threads_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: database.url })
  await admin.connect()
  await admin.query(`create role ${role} login connection limit 1`)
  await admin.query(`alter database "${new URL(database.url).pathname.slice(1)}" owner to ${role}`)
  await admin.end()
  t.after(async () => {
    await database.drop()
    const c = new pg.Client({ connectionString: database.url.replace(/\/[^/]*$/, '/postgres') })
    await c.connect()
    await c.query(`drop role if exists ${role}`)
    await c.end()
  })
  const url = new URL(database.url)
  url.username = role
  const topic = uniqueTopic('threads-refused')
  const p = startCli(['process', '--threads', '2'], {
    KAFKA_BROKERS: testBrokers().join(','),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: 'threads-refused',
    DATABASE_URL: url.toString(),
  })
  const { code } = await exitWithin(p, 30_000)
  assert.equal(code, 1, p.output())
  const lines = p
    .output()
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('tickflow:'))
  assert.equal(lines.length, 1, p.output())
  assert.match(
    lines[0]!,
    new RegExp(
      `^tickflow: processor thread [12]: cannot connect to PostgreSQL at .*too many connections for role "${role}" \\[TF_POSTGRES\\]$`,
    ),
  )
  assert.doesNotMatch(p.output(), /^ {4}at /m)
})

test('more than one thread on the embedded store stops with one line naming the setting', async (t) => {
  const dir = tempDir(t, 'tickflow-threads-')
  const run = await runWithin(
    ['process', '--threads', '2'],
    { ...noServices, KAFKA_BROKERS: testBrokers().join(',') },
    dir,
    10_000,
  )
  assert.equal(run.code, 2, run.output)
  assert.match(
    run.output.trim(),
    /^tickflow: invalid TICKFLOW_PROCESS_THREADS \(--threads\): 2 threads need DATABASE_URL; the embedded store takes one writer \[TF_CONFIG\]$/,
  )
  const zero = await runWithin(['process', '--threads', '0'], noServices, dir, 10_000)
  assert.equal(zero.code, 2, zero.output)
  assert.match(zero.output.trim(), /TICKFLOW_PROCESS_THREADS|--threads/)
})
