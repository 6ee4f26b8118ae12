// doctor against a real broker and PostgreSQL: refused is told from silent, a missing topic is a
// note, server versions and the migration state are printed, `undefined` never is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import pg from 'pg'
import { createTestDatabase } from '../support/postgres.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { listMigrations } from '../../src/store/migrate.ts'
import { runWithin, tempDir } from './support.ts'

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

test('doctor: a refused port is said at once, not as a timeout', async (t) => {
  const dir = tempDir(t, 'tickflow-doctor-')
  const port = await closedPort()
  const run = await runWithin(
    ['doctor'],
    { KAFKA_BROKERS: `127.0.0.1:${port}`, DATABASE_URL: `postgres://u:p@127.0.0.1:${port}/x` },
    dir,
    20_000,
  )
  assert.equal(run.code, 1)
  assert.match(
    run.output,
    new RegExp(`^FAIL kafka +Kafka broker at 127.0.0.1:${port} refused the connection`, 'm'),
  )
  assert.match(
    run.output,
    new RegExp(`^FAIL postgres +PostgreSQL at 127.0.0.1:${port} refused the connection`, 'm'),
  )
  assert.doesNotMatch(run.output, /no answer within|undefined/)
})

test('doctor: broker up and topic missing is a note; versions and pending migrations are printed', async (t) => {
  const dir = tempDir(t, 'tickflow-doctor-')
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('doctor')
  const env = { KAFKA_BROKERS: testBrokers().join(','), DATABASE_URL: database.url, KAFKA_TOPIC: topic }
  const c = new pg.Client({ connectionString: database.url })
  await c.connect()
  const [{ server_version: version }] = (await c.query<{ server_version: string }>('show server_version'))
    .rows as [{ server_version: string }]
  await c.end()
  const all = listMigrations()

  const before = await runWithin(['doctor'], env, dir, 30_000)
  assert.equal(before.code, 1, before.output) // migrations pending is a failure
  assert.match(
    before.output,
    /^ok {3}kafka +127\.0\.0\.1:\d+: cluster \S+, 1 broker\(s\); ApiVersions \d+ APIs \(Produce v\d+-\d+, Fetch v\d+-\d+\)$/m,
  )
  assert.match(before.output, new RegExp(`^note topic +${topic} does not exist yet`, 'm'))
  assert.match(
    before.output,
    new RegExp(`^ok {3}postgres +PostgreSQL ${version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at `, 'm'),
  )
  assert.match(
    before.output,
    new RegExp(`^FAIL migrations +0/${all.length} applied; pending: ${all[0]!.version} ${all[0]!.name}`, 'm'),
  )
  assert.doesNotMatch(before.output, /undefined/)

  const migrate = await runWithin(['migrate'], env, dir, 30_000)
  assert.equal(migrate.code, 0, migrate.output)
  const after = await runWithin(['doctor'], env, dir, 30_000)
  assert.equal(after.code, 0, after.output) // the missing topic does not fail doctor
  assert.match(after.output, new RegExp(`^ok {3}migrations +${all.length}/${all.length} applied$`, 'm'))
  assert.doesNotMatch(after.output, /undefined|^FAIL/m)
})
