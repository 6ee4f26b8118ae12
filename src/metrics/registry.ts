// tickflow's Prometheus metrics: one registry per process, passed in (never the global one), names
// in snake_case with unit suffixes. The names are a user-facing contract (docs/metrics.md, the
// alert rules in deploy/prometheus and the Grafana dashboard use them).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  registry: Registry
  ticksIngested: Counter<'source'>
  ticksProduced: Counter
  ticksPersisted: Counter
  duplicatesSkipped: Counter
  deadLetters: Counter<'reason'>
  lateTrades: Counter<'interval'>
  consumerLag: Gauge<'topic' | 'partition'>
  consumerLagSeconds: Gauge
  endToEndLatency: Histogram
  dbWriteSeconds: Histogram
  dbWriteErrors: Counter
  batchSize: Histogram
  feedLastTickAge: Gauge<'source'>
  sourceReconnects: Counter<'source'>
  feedLastTickAt: Map<string, number>
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const feedLastTickAt = new Map<string, number>()
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
  return {
    registry,
    feedLastTickAt,
    ticksIngested: new Counter({
      name: 'tickflow_ticks_ingested_total',
      help: 'Trades received from a source',
      labelNames: ['source'],
      registers: [registry],
    }),
    ticksProduced: new Counter({
      name: 'tickflow_ticks_produced_total',
      help: 'Trades acknowledged by the bus (Kafka acks=all)',
      registers: [registry],
    }),
    ticksPersisted: new Counter({
      name: 'tickflow_ticks_persisted_total',
      help: 'Trades committed to PostgreSQL',
      registers: [registry],
    }),
    duplicatesSkipped: new Counter({
      name: 'tickflow_duplicates_skipped_total',
      help: 'Messages re-delivered after a restart or rebalance and skipped because their offsets were already stored',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'tickflow_dead_letters_total',
      help: 'Messages rejected by validation and written to the dead-letter queue',
      labelNames: ['reason'],
      registers: [registry],
    }),
    lateTrades: new Counter({
      name: 'tickflow_late_trades_total',
      help: 'Trades that arrived after their bar was pushed as final',
      labelNames: ['interval'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'tickflow_consumer_lag',
      help: 'Messages in the topic not yet stored, per partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    consumerLagSeconds: new Gauge({
      name: 'tickflow_consumer_lag_seconds',
      help: 'Age of the oldest message not yet stored (0 when caught up)',
      registers: [registry],
    }),
    endToEndLatency: new Histogram({
      name: 'tickflow_end_to_end_latency_seconds',
      help: 'Event time to committed row in PostgreSQL',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    dbWriteSeconds: new Histogram({
      name: 'tickflow_db_write_seconds',
      help: 'Duration of one batch transaction in PostgreSQL',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dbWriteErrors: new Counter({
      name: 'tickflow_db_write_errors_total',
      help: 'Batch transactions that failed and were retried',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'tickflow_batch_size',
      help: 'Messages per processed batch',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    feedLastTickAge: new Gauge({
      name: 'tickflow_feed_last_tick_age_seconds',
      help: 'Seconds since the source last delivered a trade',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        const now = Date.now()
        for (const [source, at] of feedLastTickAt) this.set({ source }, (now - at) / 1000)
      },
    }),
    sourceReconnects: new Counter({
      name: 'tickflow_source_reconnects_total',
      help: 'Reconnections of a provider stream',
      labelNames: ['source'],
      registers: [registry],
    }),
  }
}
