// /metrics of `tickflow process --threads N`: the main thread's registry with each thread's merged.
// Counters and histograms add up; the lag gauges, which every thread reads for the whole topic, are
// the largest any thread reports; the process's own metrics are the main thread's, none dropped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMetrics, exposition, type MetricsSnapshot } from '../../src/metrics/registry.ts'

function value(page: string, series: string): number[] {
  return page
    .split('\n')
    .filter((l) => l.startsWith(`${series} `))
    .map((l) => Number(l.slice(series.length + 1)))
}

test('the threads’ metrics are summed, their lag gauges maxed, the process’s kept', async () => {
  const main = createMetrics()
  const a = createMetrics({ defaultMetrics: false })
  const b = createMetrics({ defaultMetrics: false })
  a.ticksPersisted.inc(5)
  b.ticksPersisted.inc(7)
  a.batchSize.observe(5)
  b.batchSize.observe(7)
  a.consumerLag.set({ topic: 't', partition: '0' }, 10)
  a.consumerLag.set({ topic: 't', partition: '1' }, 0)
  b.consumerLag.set({ topic: 't', partition: '0' }, 4)
  b.consumerLag.set({ topic: 't', partition: '1' }, 2)
  a.consumerLagSeconds.set(3)
  b.consumerLagSeconds.set(9)
  main.webhookDeliveries.inc({ result: 'success' }, 2)
  const snapshots = [
    (await a.registry.getMetricsAsJSON()) as MetricsSnapshot,
    (await b.registry.getMetricsAsJSON()) as MetricsSnapshot,
  ]
  main.threads = () => Promise.resolve(snapshots)
  const page = await exposition(main)
  assert.deepEqual(value(page, 'tickflow_ticks_persisted_total'), [12])
  assert.deepEqual(value(page, 'tickflow_batch_size_count'), [2])
  assert.deepEqual(value(page, 'tickflow_batch_size_sum'), [12])
  assert.deepEqual(value(page, 'tickflow_batch_size_bucket{le="10"}'), [2])
  assert.deepEqual(value(page, 'tickflow_consumer_lag{topic="t",partition="0"}'), [10])
  assert.deepEqual(value(page, 'tickflow_consumer_lag{topic="t",partition="1"}'), [2])
  assert.deepEqual(value(page, 'tickflow_consumer_lag_seconds'), [9])
  assert.deepEqual(value(page, 'tickflow_alert_webhook_deliveries_total{result="success"}'), [2])
  const started = value(page, 'process_start_time_seconds')
  assert.equal(started.length, 1, 'process_start_time_seconds is served once')
  assert.ok(Math.abs(started[0]! - (Date.now() / 1000 - process.uptime())) < 5)
  // Without threads the page is the registry's own.
  main.threads = undefined
  assert.deepEqual(value(await exposition(main), 'tickflow_ticks_persisted_total'), [0])
})
