// tickflow's Prometheus metrics: one registry per process, passed in (never the global one), names
// in snake_case with unit suffixes. The names are a user-facing contract (docs/metrics.md, the
// alert rules in deploy/prometheus and the Grafana dashboard use them).
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client'

/** One registry's metrics as getMetricsAsJSON() gives them (what a processor thread sends). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[]

export interface Metrics {
  registry: Registry
  ticksIngested: Counter<'source'>
  ticksProduced: Counter
  ticksPersisted: Counter
  duplicatesSkipped: Counter
  messagesMissed: Counter<'topic' | 'partition'>
  deadLetters: Counter<'reason'>
  lateTrades: Counter<'interval'>
  unmappedConditions: Counter<'source' | 'condition'>
  consumerLag: Gauge<'topic' | 'partition'>
  consumerLagSeconds: Gauge
  endToEndLatency: Histogram
  dbWriteSeconds: Histogram
  dbWriteErrors: Counter
  batchSize: Histogram
  feedLastTickAge: Gauge<'source'>
  sourceReconnects: Counter<'source'>
  feedLastTickAt: Map<string, number>
  alertFirings: Counter<'kind'>
  webhookDeliveries: Counter<'result'>
  webhookRetries: Counter
  webhookDeliverySeconds: Histogram
  webhookOutboxPending: Gauge
  webhookOutboxOldestSeconds: Gauge
  /** Reads the webhook outbox when scraped; set by the process that delivers webhooks. */
  webhookOutbox: { probe?: () => Promise<OutboxState> }
  /**
   * Set by `tickflow process --threads`: the processor threads' metrics, merged into this
   * registry's on /metrics (counters and histograms summed; the lag gauges, which every thread
   * reads for the whole topic, by their maximum).
   */
  threads?: () => Promise<MetricsSnapshot[]>
}

/** The text /metrics serves: this registry's metrics, with the processor threads' merged in. */
export async function exposition(metrics: Metrics): Promise<string> {
  if (!metrics.threads) return metrics.registry.metrics()
  // The main thread's own metrics are the process's: those a cluster aggregation would leave out
  // (process_start_time_seconds) are kept as they are.
  const own = ((await metrics.registry.getMetricsAsJSON()) as MetricsSnapshot).map((m) =>
    m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m,
  )
  return AggregatorRegistry.aggregate([own, ...(await metrics.threads())]).metrics()
}

/** The undelivered webhook rows and the age of the oldest one (0 when none). */
export interface OutboxState {
  pending: number
  oldestSeconds: number
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const feedLastTickAt = new Map<string, number>()
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
  const webhookOutbox: Metrics['webhookOutbox'] = {}
  // The database down: the gauges keep their last values (a scrape never fails for it).
  const readOutbox = (): Promise<OutboxState | undefined> =>
    (webhookOutbox.probe?.() ?? Promise.resolve(undefined)).catch(() => undefined)
  return {
    registry,
    feedLastTickAt,
    webhookOutbox,
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
    messagesMissed: new Counter({
      name: 'tickflow_messages_missed_total',
      help: 'Messages the topic no longer held when the processor reached them: deleted by its retention before they were stored',
      labelNames: ['topic', 'partition'],
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
    unmappedConditions: new Counter({
      name: 'tickflow_unmapped_conditions_total',
      help: 'Stored US-equity trades with a sale condition the rule table does not map (counted in every bar field)',
      labelNames: ['source', 'condition'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'tickflow_consumer_lag',
      help: 'Messages in the topic not yet stored, per partition',
      labelNames: ['topic', 'partition'],
      aggregator: 'max',
      registers: [registry],
    }),
    consumerLagSeconds: new Gauge({
      name: 'tickflow_consumer_lag_seconds',
      help: 'Age of the oldest message not yet stored (0 when caught up)',
      aggregator: 'max',
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
    ...alertMetrics(registry, readOutbox),
  }
}

function alertMetrics(registry: Registry, readOutbox: () => Promise<OutboxState | undefined>) {
  return {
    alertFirings: new Counter({
      name: 'tickflow_alert_firings_total',
      help: 'Alert firings stored (each once, with the batch that caused it), by rule kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'tickflow_alert_webhook_deliveries_total',
      help: 'Webhook posts of alert firings by result: success (2xx) or failure (other status, error, timeout)',
      labelNames: ['result'],
      registers: [registry],
    }),
    webhookRetries: new Counter({
      name: 'tickflow_alert_webhook_retries_total',
      help: 'Webhook posts that were not the first attempt of their firing',
      registers: [registry],
    }),
    webhookDeliverySeconds: new Histogram({
      name: 'tickflow_alert_webhook_delivery_seconds',
      help: 'Firing stored to its webhook answered 2xx, retries included',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    webhookOutboxPending: new Gauge({
      name: 'tickflow_alert_webhook_outbox_pending',
      help: 'Webhook deliveries not yet answered 2xx (the whole outbox, as read by this process)',
      registers: [registry],
      async collect() {
        const s = await readOutbox()
        if (s) this.set(s.pending)
      },
    }),
    webhookOutboxOldestSeconds: new Gauge({
      name: 'tickflow_alert_webhook_outbox_oldest_seconds',
      help: 'Age of the oldest webhook delivery not yet answered 2xx (0 when none)',
      registers: [registry],
      async collect() {
        const s = await readOutbox()
        if (s) this.set(s.oldestSeconds)
      },
    }),
  }
}
