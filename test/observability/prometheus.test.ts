// A real Prometheus server scrapes a running processor and the real broker's JMX exporter; its
// HTTP API must show tickflow's counters equal to the rows stored, consumer lag that rose while
// the processor was behind and fell to zero once it caught up, and the broker's JMX metrics.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafkaBus } from '../../src/bus/kafka.ts'
import { connectPostgres } from '../../src/store/db.ts'
import { storedOffsets } from '../../src/store/ticks.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { freePort, testBrokers, uniqueTopic } from '../support/topics.ts'
import { runCli, startCli } from '../support/cli.ts'
import { waitForPort } from '../support/kafka.ts'

async function query(
  promPort: number,
  q: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)
  const body = (await res.json()) as {
    status: string
    data: { result: { metric: Record<string, string>; value: [number, string] }[] }
  }
  assert.equal(body.status, 'success', q)
  return body.data.result
}

test('Prometheus scrapes tickflow and the broker: counters equal stored rows, lag goes to zero, JMX metrics present', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const topic = uniqueTopic('prom')
  const group = `g-${topic}`
  const brokers = testBrokers().join(',')
  const [procPort, promPort] = [await freePort(), await freePort()]
  const env = {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: database.url,
  }

  const dir = mkdtempSync(join(tmpdir(), 'tickflow-prom-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const jmxPort = process.env.TICKFLOW_TEST_KAFKA_JMX_PORT
  assert.ok(jmxPort, 'TICKFLOW_TEST_KAFKA_JMX_PORT is not set: run the tests through scripts/test.sh')
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      `  - { job_name: tickflow-process, static_configs: [{ targets: ['127.0.0.1:${procPort}'] }] }`,
      `  - { job_name: kafka, static_configs: [{ targets: ['127.0.0.1:${jmxPort}'] }] }`,
      '',
    ].join('\n'),
  )
  const prom = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: 'ignore' },
  )
  t.after(() => void prom.kill('SIGKILL'))
  prom.on('error', (err) =>
    assert.fail(`cannot start prometheus (Debian package prometheus): ${err.message}`),
  )
  await waitForPort(promPort, 30_000)

  const proc = startCli(['process'], { ...env, HTTP_PORT: String(procPort) })
  t.after(() => void proc.child.kill('SIGKILL'))
  // Once Prometheus scrapes the idle processor, 150,000 trades arrive faster than it can store
  // them (the producer is about 3× faster): it falls behind, and Prometheus sees the lag.
  for (const deadline = Date.now() + 30_000; ; await sleep(250)) {
    const up = await query(promPort, 'up{job="tickflow-process"}')
    if (up[0]?.value[1] === '1') break
    assert.ok(Date.now() < deadline, 'Prometheus never scraped the processor')
  }
  const ingest = await runCli(['ingest', '--rate', '0', '--count', '150000', '--seed', '4'], env)
  assert.equal(ingest.code, 0, ingest.output)
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  const bus = createKafkaBus({ brokers: testBrokers() })
  t.after(() => bus.close())
  const end = await bus.endOffsets(topic)
  for (const deadline = Date.now() + 90_000; ;) {
    const stored = await storedOffsets(db, group, topic).catch(() => new Map<number, bigint>())
    if ([...end].every(([p, e]) => (stored.get(p) ?? 0n) >= e)) break
    assert.ok(Date.now() < deadline, `processor did not catch up: ${proc.output()}`)
    await sleep(250)
  }
  const [rows] = await db.query<{ n: string }>('select count(*)::text as n from ticks')
  assert.equal(rows!.n, '150000')

  // Wait for Prometheus to scrape the caught-up state (lag is refreshed every second).
  let persisted = ''
  let lag = ''
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(500)) {
    persisted = (await query(promPort, 'tickflow_ticks_persisted_total'))[0]?.value[1] ?? ''
    lag = (await query(promPort, `sum(tickflow_consumer_lag{topic="${topic}"})`))[0]?.value[1] ?? ''
    if (persisted === rows!.n && lag === '0') break
  }
  assert.equal(persisted, '150000', 'tickflow_ticks_persisted_total in Prometheus ≠ rows stored')
  assert.equal(lag, '0')
  const now = Date.now() / 1000
  const range = await fetch(
    `http://127.0.0.1:${promPort}/api/v1/query_range?query=${encodeURIComponent(`sum(tickflow_consumer_lag{topic="${topic}"})`)}&start=${now - 300}&end=${now}&step=1`,
  )
  const series = ((await range.json()) as { data: { result: { values: [number, string][] }[] } }).data.result
  const maxLag = String(Math.max(0, ...(series[0]?.values ?? []).map(([, v]) => Number(v))))
  assert.ok(
    Number(maxLag) > 0,
    `lag never rose above zero in Prometheus: ${JSON.stringify(series).slice(0, 300)}`,
  )
  const latency = await query(promPort, 'tickflow_end_to_end_latency_seconds_count')
  assert.equal(latency[0]?.value[1], '150000')
  const up = await query(promPort, 'up')
  assert.deepEqual(up.map((r) => [r.metric.job, r.value[1]]).sort(), [
    ['kafka', '1'],
    ['tickflow-process', '1'],
  ])
  const messagesIn = await query(promPort, 'kafka_server_brokertopicmetrics_messagesin_total')
  assert.ok(Number(messagesIn[0]?.value[1]) >= 150_000, 'broker JMX metrics missing in Prometheus')
  assert.equal(
    (await query(promPort, 'kafka_server_replicamanager_underreplicatedpartitions'))[0]?.value[1],
    '0',
  )
  assert.ok((await query(promPort, 'nodejs_heap_size_used_bytes{job="tickflow-process"}')).length > 0)
  proc.child.kill('SIGTERM')
  assert.equal((await proc.exited).code, 0, proc.output())
})
