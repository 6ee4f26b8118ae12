// The topic is deleted and created again under the same name (a reset in development, a mistake
// in production) while the store keeps the group's offsets. The new topic numbers its messages from
// 0, below the offsets stored for the old one. Seen before: a processor started after 1,000 trades
// were stored and the topic was made again with 500 new ones skipped all 500 as already stored
// (tickflow_duplicates_skipped_total) and said nothing. Now the offsets are tied to Kafka's topic
// id: a processor that starts on a new incarnation drops the old offsets with a warning and reads
// it from its start; one running when it happens stops with TF_TOPIC_RECREATED, and the next run
// stores every new trade. Nothing is lost, nothing is stored twice.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TradeChecksum, tableChecksum } from '../support/checksum.ts'
import { startCli, type CliProcess } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { SYMBOLS } from '../support/scenario.ts'
import { simulate } from '../../src/sources/simulator.ts'
import { pipelineEnv, testBrokers, uniqueTopic } from '../support/topics.ts'
import { waitFor } from '../support/wait.ts'
import { exitWithin } from '../cli/support.ts'

async function setUp(t: TestContext): Promise<{ db: Db; env: Record<string, string>; topic: string }> {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const topic = uniqueTopic('recreated')
  const env = { ...pipelineEnv(topic, database.url), KAFKA_PARTITIONS: '2' }
  return { db, env, topic }
}

/** `count` paced simulator trades from `start` (ids are unique per start), produced by `tickflow ingest`. */
async function ingest(
  env: Record<string, string>,
  count: number,
  seed: number,
  start: string,
): Promise<TradeChecksum> {
  const args = [
    'ingest',
    '--rate',
    '50000',
    '--count',
    String(count),
    '--seed',
    String(seed),
    '--start',
    start,
  ]
  const p = startCli([...args, '--symbols', SYMBOLS.join(',')], env)
  assert.equal((await exitWithin(p, 60_000)).code, 0, p.output())
  const sum = new TradeChecksum()
  for (const tr of simulate({
    symbols: SYMBOLS,
    rate: 50_000,
    realtime: false,
    count,
    seed,
    start: Date.parse(start),
  }))
    sum.add(tr)
  return sum
}

async function deleteTopic(topic: string): Promise<void> {
  const admin = new Admin({ clientId: 'recreated-test', bootstrapBrokers: testBrokers() })
  try {
    await admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 30_000, `${topic} deleted`)
  } finally {
    await admin.close()
  }
}

const stored = (db: Db, n: number, p: CliProcess): Promise<boolean> =>
  waitFor(
    async () => (await tableChecksum(db)).count === n,
    90_000,
    () => `${n} trades stored:\n${p.output()}`,
  )

function both(a: TradeChecksum, b: TradeChecksum): { count: number; sum: bigint } {
  return { count: a.count + b.count, sum: a.sum + b.sum }
}

test('a topic made again while no processor ran: the next one drops the old offsets and stores every new trade', async (t) => {
  const { db, env, topic } = await setUp(t)
  const first = await ingest(env, 1000, 51, '2026-11-24T14:30:00Z')
  const before = startCli(['process'], env)
  t.after(() => void before.child.kill('SIGKILL'))
  await stored(db, 1000, before)
  before.child.kill('SIGTERM')
  assert.equal((await exitWithin(before, 30_000)).code, 0, before.output())

  await deleteTopic(topic)
  const second = await ingest(env, 500, 52, '2026-11-24T15:30:00Z')
  const after = startCli(['process'], env)
  t.after(() => void after.child.kill('SIGKILL'))
  await stored(db, 1500, after)
  after.child.kill('SIGTERM')
  assert.equal((await exitWithin(after, 30_000)).code, 0, after.output())
  assert.deepEqual(await tableChecksum(db), both(first, second))
  assert.match(
    after.output(),
    new RegExp(
      `topic ${topic} was deleted and created again since group proc last stored from it: the offsets stored for the old topic are dropped and the new one is read from its start`,
    ),
  )
  const [dead] = await db.query<{ n: string }>('select count(*)::text as n from dead_letters')
  assert.equal(dead!.n, '0')
})

test('a topic made again under a running processor: it stops with one line, and the next run stores every new trade', async (t) => {
  const { db, env, topic } = await setUp(t)
  const first = await ingest(env, 1000, 53, '2026-11-24T14:30:00Z')
  const running = startCli(['process'], env)
  t.after(() => void running.child.kill('SIGKILL'))
  await stored(db, 1000, running)

  await deleteTopic(topic)
  const second = await ingest(env, 500, 54, '2026-11-24T15:30:00Z')
  const { code } = await exitWithin(running, 60_000)
  assert.equal(code, 1, running.output())
  assert.equal(
    running.output().trim().split('\n').at(-1),
    `tickflow: topic ${topic} was deleted and created again while this processor ran: run it again to read the new topic from its start (the offsets stored for the old one are dropped then; trades already stored are recognised by their ids) [TF_TOPIC_RECREATED]`,
  )

  const again = startCli(['process'], env)
  t.after(() => void again.child.kill('SIGKILL'))
  await stored(db, 1500, again)
  // Nothing more comes: every new trade once.
  await sleep(1000)
  again.child.kill('SIGTERM')
  assert.equal((await exitWithin(again, 30_000)).code, 0, again.output())
  assert.deepEqual(await tableChecksum(db), both(first, second))
})
