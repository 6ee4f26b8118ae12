// Every failure ends the process within 10 s with one line: its code, what, which setting; no
// stack trace, never [object Object]. Each run has a hard timeout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { assertOneLine, noServices, runWithin, tempDir } from './support.ts'

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    )
  })
}

test('tickflow process with its port in use exits 1 with one line and never joins the group', async (t) => {
  const { server, port } = await occupy()
  t.after(() => server.close())
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const dir = tempDir(t, 'tickflow-port-')
  const topic = uniqueTopic('port-in-use')
  const env = {
    KAFKA_BROKERS: testBrokers().join(','),
    DATABASE_URL: database.url,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
  }
  const run = await runWithin(['process', '--port', String(port)], env, dir, 10_000)
  assert.equal(run.code, 1)
  assertOneLine(
    run.output,
    new RegExp(
      `^tickflow: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use \\(--port / HTTP_PORT\\) \\[TF_HTTP_LISTEN\\]$`,
    ),
  )
  // Nothing was started after the port: the topic the processor would create does not exist.
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  await assert.rejects(bus.endOffsets(topic), /Unknown topic/)
})

test('tickflow up with its port in use exits 1 with one line before opening the store', async (t) => {
  const { server, port } = await occupy()
  t.after(() => server.close())
  const dir = tempDir(t, 'tickflow-up-port-')
  const run = await runWithin(['up', '--port', String(port)], noServices, dir, 10_000)
  assert.equal(run.code, 1)
  assertOneLine(
    run.output,
    /^tickflow: cannot listen on .* the port is in use \(--port \/ HTTP_PORT\) \[TF_HTTP_LISTEN\]$/,
  )
  assert.equal(existsSync(join(dir, 'data/pglite')), false, 'the store was not opened')
})

test('a replay of a header-less file whose columns cannot be mapped exits with one line', async (t) => {
  const dir = tempDir(t, 'tickflow-nohdr-')
  writeFileSync(join(dir, 'no-header.csv'), '1381239000015,185.5,100\n1381239000020,185.6,200\n')
  const run = await runWithin(['replay', 'no-header.csv', '--symbol', 'IBM'], noServices, dir, 60_000)
  assert.equal(run.code, 1)
  const last = run.output.trim().split('\n').at(-1)!
  assert.match(
    last,
    /^tickflow: the first line ".*" looks like data, not a header: give column positions .* \[TF_REPLAY_COLUMNS\]$/,
  )
  assert.doesNotMatch(run.output, /^ {4}at /m)
  assert.doesNotMatch(run.output, /\[object Object\]/)
})

test('a missing replay file fails before migrations or a server start, with one line', async (t) => {
  const dir = tempDir(t, 'tickflow-nofile-')
  const run = await runWithin(['replay', 'missing.csv'], noServices, dir, 10_000)
  assert.equal(run.code, 1)
  assertOneLine(run.output, /^tickflow: cannot read replay file "missing.csv": no such file \[TF_FILE\]$/)
  assert.equal(existsSync(join(dir, 'data')), false, 'no store was created')
})

test('an unreachable PostgreSQL has its own code and never shows the password', async (t) => {
  const dir = tempDir(t, 'tickflow-nopg-')
  const { server, port } = await occupy() // a port we own, then free: nothing listens there
  await new Promise((r) => server.close(r))
  const url = `postgres://tf:sekrit-pw@127.0.0.1:${port}/tickflow`
  const run = await runWithin(['serve', '--port', '0'], { DATABASE_URL: url }, dir, 10_000)
  assert.equal(run.code, 1)
  assertOneLine(
    run.output,
    new RegExp(
      `^tickflow: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/tickflow \\(DATABASE_URL\\): .*\\[TF_POSTGRES\\]$`,
    ),
  )
  assert.doesNotMatch(run.output, /sekrit-pw/)
})

test('a LOG_FILE that cannot be written is one line naming LOG_FILE and exit 1', async (t) => {
  const dir = tempDir(t, 'tickflow-logfile-')
  mkdirSync(join(dir, 'a-directory'))
  for (const [file, why] of [
    ['/proc/nope/x.log', /ENOENT/],
    [join(dir, 'a-directory'), /it is a directory/],
  ] as const) {
    const run = await runWithin(['serve', '--port', '0'], { ...noServices, LOG_FILE: file }, dir, 10_000)
    assert.equal(run.code, 1, run.output)
    assertOneLine(
      run.output,
      /^tickflow: cannot write the log file LOG_FILE \/ --log-file ".*": .* \[TF_FILE\]$/,
    )
    assert.match(run.output, why)
    assert.equal(existsSync(join(dir, 'data')), false, 'nothing started')
  }
})

test('a stack trace is printed only with LOG_LEVEL=debug', async (t) => {
  const dir = tempDir(t, 'tickflow-debug-')
  const run = await runWithin(['replay', 'missing.csv'], { ...noServices, LOG_LEVEL: 'debug' }, dir, 10_000)
  assert.equal(run.code, 1)
  assert.match(run.output, /^ {4}at /m)
})
