// The test broker runs with the Prometheus JMX exporter agent: its broker metrics are scrapeable
// and move when messages are produced.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { testBrokers, uniqueTopic } from '../support/topics.ts'

async function scrape(): Promise<Map<string, number>> {
  const port = process.env.TICKFLOW_TEST_KAFKA_JMX_PORT
  assert.ok(port, 'TICKFLOW_TEST_KAFKA_JMX_PORT is not set: run the tests through scripts/test.sh')
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

test('the broker exposes its JMX metrics through the exporter agent, and they count produced messages', async (t) => {
  const before = await scrape()
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  const topic = uniqueTopic('jmx')
  await bus.ensureTopic({ name: topic, partitions: 1 })
  await bus.producer().send(
    topic,
    Array.from({ length: 500 }, (_, i) => ({ key: 'K', value: `m${i}` })),
  )
  const after = await scrape()
  const messagesIn = 'kafka_server_brokertopicmetrics_messagesin_total'
  assert.ok(
    after.has(messagesIn),
    `no ${messagesIn} in ${[...after.keys()].filter((k) => k.startsWith('kafka')).join(', ')}`,
  )
  assert.ok(after.get(messagesIn)! - (before.get(messagesIn) ?? 0) >= 500)
  assert.equal(after.get('kafka_server_replicamanager_underreplicatedpartitions'), 0)
  assert.equal(after.get('kafka_controller_kafkacontroller_activecontrollercount'), 1)
  assert.ok(
    [...after.keys()].some(
      (k) => k.startsWith('kafka_network_requestmetrics_totaltimems{') && k.includes('request="Produce"'),
    ),
  )
})
