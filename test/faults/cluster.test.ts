// A 3-broker KRaft cluster on loopback (replication 3, min.insync.replicas 2): one broker is killed
// mid-run; producer (acks=all) and processor carry on with the other two and nothing is lost.
// Two client behaviours made this stall before the bus worked around them (src/bus/kafka-workarounds.ts): a
// produce request spanning partitions whose new leaders differ, retried against one of them for
// ever; and a consumer that keeps a dead group coordinator.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { root } from '../support/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { startCli } from '../support/cli.ts'
import { waitFor, waitGroupMembers, waitProduced } from '../support/wait.ts'
import { assertExact, expectedChecksum, ingestArgs, ownServices } from '../support/scenario.ts'

test('3-broker cluster, one broker killed mid-run: nothing lost or duplicated', async (t) => {
  const { kafka, database, env } = await ownServices(
    t,
    'cluster',
    [
      { nodeId: 1, port: 19292, controllerPort: 19293, jmxPort: 17271 },
      { nodeId: 2, port: 19294, controllerPort: 19295, jmxPort: 17272 },
      { nodeId: 3, port: 19296, controllerPort: 19297, jmxPort: 17273 },
    ],
    { KAFKA_REPLICATION: '3' },
  )
  const proc = startCli(['process'], env)
  t.after(() => void proc.child.kill('SIGKILL'))
  const brokers = kafka.brokers.split(',')
  await waitGroupMembers(brokers, 'proc', 'ticks', 1, 180_000, proc.output)
  const ingest = startCli(ingestArgs(120_000, 10_000, 25), env)
  t.after(() => void ingest.child.kill('SIGKILL'))
  await waitProduced(brokers, 'ticks', 30_000, 120_000, ingest.output) // a quarter of the stream
  // The broker to crash is the group's coordinator: it also leads partitions, so the producer
  // loses leaders and the processor loses its group coordinator at once.
  const coordinator = groupCoordinator(kafka.brokers.split(',')[0]!, 'proc')
  t.diagnostic(`killing broker ${coordinator}, the coordinator of the processors' group`)
  await kafka.nodes.find((n) => n.spec.nodeId === coordinator)!.kill() // a crash (SIGKILL)
  const survivors = kafka.nodes
    .filter((n) => n.spec.nodeId !== coordinator)
    .map((n) => `127.0.0.1:${n.spec.port}`)
    .join(',')
  const killedAt = Date.now()
  assert.equal((await ingest.exited).code, 0, ingest.output())
  t.diagnostic(`the producer finished ${Date.now() - killedAt} ms after the broker was killed`)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  // Waits on the database, not the admin API: with a broker down, the client's metadata requests
  // can fail for a while (seen with @platformatic/kafka 2.12.1), while produce and fetch go on.
  let stored = ''
  await waitFor(
    async () => {
      const [n] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
      stored = n!.n
      return stored === '120000'
    },
    120_000,
    () => `120000 ticks stored (have ${stored}): ${proc.output()}`,
    250,
  )
  t.diagnostic(`stored all 120000 trades ${Date.now() - killedAt} ms after the broker was killed`)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
  await assertExact(db, expectedChecksum(120_000, 10_000, 25))
  // The topic really was replicated three ways with min.insync.replicas 2 (the cluster defaults).
  const describe = kafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    survivors,
    '--describe',
    '--topic',
    'ticks',
  ])
  assert.match(describe, /ReplicationFactor: 3/)
  assert.match(describe, /min\.insync\.replicas=2/)
})

function kafkaTool(main: string, args: string[]): string {
  return execFileSync('java', ['-Xmx256m', '-cp', join(root, '.cache/kafka/libs/*'), main, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** The node id of a consumer group's coordinator, from Kafka's own consumer-groups tool. */
function groupCoordinator(bootstrap: string, group: string): number {
  const out = kafkaTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
    '--bootstrap-server',
    bootstrap,
    '--describe',
    '--group',
    group,
    '--state',
  ])
  const line = out.split('\n').find((l) => l.startsWith(`${group} `))
  const id = line && /\((\d+)\)/.exec(line)?.[1]
  assert.ok(id, `no coordinator in: ${out}`)
  return Number(id)
}
