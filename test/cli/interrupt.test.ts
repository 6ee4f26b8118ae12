// SIGTERM and Ctrl-C stop every command within 10 s, cleaning up what it started: services close
// and exit 0; `tickflow bench` leaves no broker and no temporary directory behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { startCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { exitWithin, outputMatches, readyUrl, tempDir } from './support.ts'

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

test('tickflow process and serve stop on SIGTERM within 10 s and exit 0', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const dir = tempDir(t, 'tickflow-term-')
  const topic = uniqueTopic('term')
  const env = {
    KAFKA_BROKERS: testBrokers().join(','),
    DATABASE_URL: database.url,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `g-${topic}`,
    LOG_LEVEL: 'info',
  }
  const proc = startCli(['process'], env, dir)
  t.after(() => proc.child.kill('SIGKILL'))
  await outputMatches(proc, /processor started/, 60_000)
  const serve = startCli(['serve'], env, dir)
  t.after(() => serve.child.kill('SIGKILL'))
  await readyUrl(serve, 60_000)
  proc.child.kill('SIGTERM')
  serve.child.kill('SIGTERM')
  assert.equal((await exitWithin(proc, 10_000)).code, 0, proc.output())
  assert.equal((await exitWithin(serve, 10_000)).code, 0, serve.output())
  assert.match(proc.output(), /processor stopped/)
})

test('tickflow bench interrupted leaves no broker and no temporary directory', async (t) => {
  const dir = tempDir(t, 'tickflow-bench-int-')
  assert.equal(await accepts(29092), false, 'port 29092 (the harness broker) must be free for this test')
  // The embedded stage runs first, before the broker: kept small, so the interrupt comes sooner.
  const bench = startCli(
    [
      'bench',
      '--trades',
      '200000',
      '--embedded-trades',
      '2000',
      '--up-seconds',
      '1',
      '--out',
      join(dir, 'r.json'),
    ],
    {},
    dir,
  )
  t.after(() => bench.child.kill('SIGKILL'))
  await outputMatches(bench, /Kafka ProducerPerformance/, 180_000) // the broker is up
  assert.equal(await accepts(29092), true)
  bench.child.kill('SIGINT') // to tickflow alone, as `kill -INT PID` does
  const { code } = await exitWithin(bench, 10_000)
  assert.notEqual(code, 0)
  const removed = /stopping the broker and removing (\S+)/.exec(bench.output())?.[1]
  assert.ok(removed, bench.output())
  // the harness finishes its clean-up right after tickflow exits; give it the same 10 s
  for (const deadline = Date.now() + 10_000; existsSync(removed) || (await accepts(29092));) {
    assert.ok(Date.now() < deadline, `left behind: ${existsSync(removed) ? removed : 'a broker on 29092'}`)
    await new Promise((r) => setTimeout(r, 100))
  }
})
