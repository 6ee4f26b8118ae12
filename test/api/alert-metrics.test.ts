// The alert metrics after a known scenario: ten trades through the processor fire three rules a
// known number of times (counted by kind, once each, as stored), and the webhook deliverer posts
// the five firings of the rule with a webhook to a receiver that refuses each firing's first
// attempt: exactly five successes, five failures, five retries, five latencies, and the outbox
// gauges go from five pending to none.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createMemoryBus } from '../../src/bus/memory.ts'
import { connectPostgres, type Db } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { TickStore, storedOffsets } from '../../src/store/ticks.ts'
import { createRule } from '../../src/store/alerts.ts'
import { createMetrics, type Metrics } from '../../src/metrics/registry.ts'
import { startProcessor } from '../../src/processor/processor.ts'
import { encodeTrade } from '../../src/domain/trade.ts'
import { readOutbox, startWebhookDelivery } from '../../src/api/webhooks.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { root } from '../support/kafka.ts'

const PRICES = ['9', '11', '9', '12', '8', '10', '9.5', '10.5', '7', '13']
const SIZES = ['1', '1', '1', '5', '1', '1', '9', '1', '1', '1']

/** The value of one sample of the registry's text exposition (undefined = not exposed). */
async function sample(m: Metrics, name: string): Promise<number | undefined> {
  const text = await m.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

async function processTrades(t: import('node:test').TestContext, db: Db, metrics: Metrics): Promise<void> {
  const bus = createMemoryBus()
  await bus.ensureTopic({ name: 'ticks', partitions: 1 })
  const messages = PRICES.map((price, i) => ({
    key: 'TEST',
    value: encodeTrade({
      v: 1,
      type: 'trade',
      symbol: 'TEST',
      ts: `2026-11-24T15:00:0${i}Z`,
      price,
      size: SIZES[i]!,
      source: 'test',
    }),
  }))
  await bus.producer().send('ticks', messages)
  const processor = startProcessor({
    bus,
    store: new TickStore(db),
    topic: 'ticks',
    groupId: 'g',
    log: pino({ level: 'silent' }),
    metrics,
  })
  t.after(() => processor.close())
  for (const deadline = Date.now() + 60_000; ; await sleep(50)) {
    if ((await storedOffsets(db, 'g', 'ticks')).get(0) === 10n) break
    assert.ok(Date.now() < deadline, 'the processor did not store the ten trades')
  }
  await processor.close()
}

test('alert firings are counted by kind as stored, and webhook posts, retries, latency and the outbox are measured', async (t) => {
  const database = await createTestDatabase()
  t.after(() => database.drop())
  const db = connectPostgres(database.url)
  t.after(() => db.close())
  await migrate(db)
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'])
      const first = !seen.has(key)
      seen.add(key)
      res.writeHead(first ? 503 : 200).end()
    })
  })
  const seen = new Set<string>()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const common = { symbols: ['TEST'], name: null }
  // up through 10: at 11, 12, 10, 10.5 and 13 (5); down through 10: at 9, 8 and 7 (3); a 1s bar's
  // volume at least 3 × the mean of the two before it: the 5 (mean 1) and the 9 (mean 1) (2)
  await createRule(db, {
    ...common,
    kind: 'price_cross',
    params: { level: '10' },
    direction: 'up',
    webhookUrl: url,
  })
  await createRule(db, {
    ...common,
    kind: 'price_cross',
    params: { level: '10' },
    direction: 'down',
    webhookUrl: null,
  })
  await createRule(db, {
    ...common,
    kind: 'volume_spike',
    params: { multiple: '3', period: 2, interval: '1s' },
    direction: 'up',
    webhookUrl: null,
  })
  const metrics = createMetrics({ defaultMetrics: false })
  await processTrades(t, db, metrics)
  assert.equal(await sample(metrics, 'tickflow_alert_firings_total{kind="price_cross"}'), 8)
  assert.equal(await sample(metrics, 'tickflow_alert_firings_total{kind="volume_spike"}'), 2)
  const stored = await db.query<{ kind: string; n: string }>(
    `select r.kind, count(*)::text as n from alert_firings f join alert_rules r on r.id = f.rule_id
      group by r.kind order by r.kind`,
  )
  assert.deepEqual(stored, [
    { kind: 'price_cross', n: '8' },
    { kind: 'volume_spike', n: '2' },
  ])

  // Nothing delivered yet: the outbox holds the five firings of the rule with a webhook.
  const outbox = await readOutbox(db)
  assert.equal(outbox.pending, 5)
  assert.ok(outbox.oldestSeconds >= 0 && outbox.oldestSeconds < 600, String(outbox.oldestSeconds))
  metrics.webhookOutbox.probe = () => readOutbox(db)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_outbox_pending'), 5)

  // A request time limit no loaded machine reaches: no attempt is repeated for a lost answer.
  const { stop } = startWebhookDelivery(db, {
    timeoutMs: 60_000,
    maxBackoffMs: 100,
    baseMs: 20,
    pollMs: 20,
    metrics,
  })
  t.after(() => stop())
  for (const deadline = Date.now() + 60_000; (await readOutbox(db)).pending > 0; await sleep(50))
    assert.ok(Date.now() < deadline, 'the five deliveries were not made')
  await stop()
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_deliveries_total{result="success"}'), 5)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_deliveries_total{result="failure"}'), 5)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_retries_total'), 5)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_delivery_seconds_count'), 5)
  assert.equal(seen.size, 5)
  // stop() unhooked the gauges from the outbox; read it once more through them
  metrics.webhookOutbox.probe = () => readOutbox(db)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_outbox_pending'), 0)
  assert.equal(await sample(metrics, 'tickflow_alert_webhook_outbox_oldest_seconds'), 0)
})

test('the alert metrics table of docs/analytics.md names each metric with its type and labels', () => {
  const doc = readFileSync(join(root, 'docs/analytics.md'), 'utf8')
  const rows = [...doc.matchAll(/^\| `(tickflow_alert_\w+)` +\| (\w+) +\| ([^|]*)\|/gm)].map((m) => ({
    name: m[1]!,
    type: m[2]!,
    // the label names, without the values some rows give in parentheses
    labels: [...m[3]!.replace(/\(.*?\)/g, '').matchAll(/`(\w+)`/g)].map((l) => l[1]!),
  }))
  const metrics = createMetrics({ defaultMetrics: false }).registry.getMetricsAsArray()
  const actual = metrics
    .filter((m) => m.name.startsWith('tickflow_alert_'))
    .map((m) => ({
      name: m.name,
      type: String(m.type),
      labels: (m as unknown as { labelNames: string[] }).labelNames,
    }))
  assert.equal(rows.length, 6)
  assert.deepEqual(rows, actual)
})
