// A topic the broker refuses to create is reported with the broker's own reason, on one line, by
// the bus and by the command that asked for it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'
import { runCli } from '../support/cli.ts'
import { createTestDatabase } from '../support/postgres.ts'

test('topic creation refused by the broker: the error names the broker reason', async (t) => {
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  const cases: [{ partitions: number; replicas?: number }, RegExp][] = [
    [{ partitions: 100_000 }, /INVALID_PARTITIONS|POLICY_VIOLATION|partitions/i],
    [
      { partitions: 1, replicas: 5 },
      /INVALID_REPLICATION_FACTOR: Unable to replicate the partition 5 time\(s\)|INVALID_REPLICATION_FACTOR: .*5/,
    ],
  ]
  for (const [spec, reason] of cases) {
    const name = uniqueTopic('refused')
    const err = await bus.ensureTopic({ name, ...spec }).then(
      () => assert.fail(`${JSON.stringify(spec)} was accepted`),
      (e: unknown) => e as Error,
    )
    assert.match(err.message, reason)
    assert.match(err.message, new RegExp(`creating topic ${name} failed: [A-Z_]{5,}: `))
    assert.doesNotMatch(err.message, /\n/)
  }
})

test('tickflow process with a topic the broker refuses: one line with the reason, exit 1', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const { code, output } = await runCli(['process'], {
    KAFKA_BROKERS: testBrokers().join(','),
    KAFKA_TOPIC: uniqueTopic('refused'),
    KAFKA_REPLICATION: '5',
    DATABASE_URL: database.url,
  })
  assert.notEqual(code, 0)
  const lines = output.trim().split('\n')
  assert.equal(lines.length, 1, output)
  assert.match(lines[0]!, /INVALID_REPLICATION_FACTOR/)
})
