// A 3-broker KRaft cluster on loopback (replication 3, min.insync.replicas 2): one broker is killed
// mid-run; producer (acks=all) and processor carry on with the other two and nothing is lost.
//
// NOT in the CI suite (the file name does not end in .test.ts): it passed once and stalled twice
// in three runs — after the SIGKILL of a broker, the producer and the consumer of
// @platformatic/kafka 2.12.1 sometimes stop making progress (metadata requests keep failing).
// Run it by hand with: ./scripts/test.sh test/faults/cluster.manual.ts
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startKafka } from '../support/kafka.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { startCli } from '../support/cli.ts'
import { assertExact, expectedChecksum, ingestArgs } from '../support/scenario.ts'

test('3-broker cluster, one broker killed mid-run: nothing lost or duplicated', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tickflow-cluster-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const kafka = await startKafka(dir, [
    { nodeId: 1, port: 19292, controllerPort: 19293, jmxPort: 17271 },
    { nodeId: 2, port: 19294, controllerPort: 19295, jmxPort: 17272 },
    { nodeId: 3, port: 19296, controllerPort: 19297, jmxPort: 17273 },
  ])
  t.after(() => Promise.all(kafka.nodes.map((n) => n.kill())))
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const env = {
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC: 'ticks',
    KAFKA_GROUP_ID: 'proc',
    DATABASE_URL: database.url,
    KAFKA_REPLICATION: '3',
  }
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  await sleep(4000)
  const ingest = startCli(ingestArgs(120_000, 10_000, 25), env)
  t.after(() => void ingest.child.kill('SIGKILL'))
  await sleep(4000)
  await kafka.nodes[1]!.kill() // a crash, not a controlled shutdown
  assert.equal((await ingest.exited).code, 0, ingest.output())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  // Waits on the database, not the admin API: with a broker down, the client's metadata requests
  // can fail for a while (seen with @platformatic/kafka 2.12.1), while produce and fetch go on.
  for (const deadline = Date.now() + 120_000; ; await sleep(250)) {
    const [n] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
    if (n!.n === '120000') break
    assert.ok(Date.now() < deadline, `stored ${n!.n} of 120000: ${proc.output()}`)
  }
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertExact(db, expectedChecksum(120_000, 10_000, 25))
  // The topic really was replicated three ways with min.insync.replicas 2 (the cluster defaults).
  const describe = await import('node:child_process').then((cp) =>
    cp.execFileSync(
      'java',
      [
        '-Xmx256m',
        '-cp',
        join(import.meta.dirname, '../../.cache/kafka/libs/*'),
        'org.apache.kafka.tools.TopicCommand',
        '--bootstrap-server',
        kafka.brokers.split(',')[0]!,
        '--describe',
        '--topic',
        'ticks',
      ],
      { encoding: 'utf8' },
    ),
  )
  assert.match(describe, /ReplicationFactor: 3/)
  assert.match(describe, /min\.insync\.replicas=2/)
})
