// PostgreSQL (a throwaway cluster this test owns) is restarted mid-run: the processor retries its
// batch with backoff, resumes, and the result is exact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startThrowawayCluster } from '../support/postgres.ts'
import { freePort, pipelineEnv } from '../support/topics.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { startCli } from '../support/cli.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { waitGroupMembers, waitProduced } from '../support/wait.ts'
import { assertExact, expectedChecksum, ingestArgs, waitCaughtUp } from '../support/scenario.ts'

test('PostgreSQL restarted mid-run: the processor retries with backoff and resumes, exact result', async (t) => {
  const port = await freePort()
  const pg = startThrowawayCluster(port)
  t.after(() => pg.stop())
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const topic = uniqueTopic('pgrestart')
  const env = pipelineEnv(topic, url)
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await waitGroupMembers(testBrokers(), 'proc', topic, 1, 180_000, proc.output)
  const ingest = startCli(ingestArgs(120_000, 10_000, 22), env)
  await waitProduced(testBrokers(), topic, 30_000, 120_000, ingest.output) // a quarter of the stream
  pg.stopNow() // fast shutdown: open transactions are rolled back
  // Not a wait for a state: PostgreSQL stays down for a while, so the processor's writes fail
  // and must be retried.
  await sleep(3000)
  pg.startNow()
  assert.equal((await ingest.exited).code, 0, ingest.output())
  const db = connectPostgres(url)
  t.after(() => db.close())
  await waitCaughtUp(testBrokers(), db, 'proc', topic, 120_000, proc.output)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertExact(db, expectedChecksum(120_000, 10_000, 22))
  // The outage was seen and retried, not skipped.
  assert.match(proc.output(), /database write failed; retrying/)
})
