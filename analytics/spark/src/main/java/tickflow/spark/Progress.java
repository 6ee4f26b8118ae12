package tickflow.spark;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.streaming.SourceProgress;
import org.apache.spark.sql.streaming.StateOperatorProgress;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.StreamingQueryProgress;

/**
 * Each query's latest progress as Prometheus metrics (prefix tickflow_spark_, label query), served
 * at /metrics by the driver. Counters (rows, dropped rows, batches) count from the process start.
 */
public final class Progress extends StreamingQueryListener {
  private final Options options;
  private final Map<String, Snapshot> queries = new ConcurrentHashMap<>();
  private HttpServer server;

  static final class Snapshot {
    double inputRate, processedRate, batchSeconds, watermarkSeconds, behind, lastProgressSeconds;
    long stateRows, batches, inputRows, dropped, duplicates, lastBatchId = -1;
    boolean hasBehind;
  }

  public Progress(Options options) {
    this.options = options;
  }

  public void serve() throws IOException {
    if (options.metricsPort == 0) return;
    server = HttpServer.create(new InetSocketAddress(options.metricsHost, options.metricsPort), 0);
    server.createContext("/metrics", ex -> {
      byte[] body = render().getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    System.err.println("tickflow-spark: metrics on http://" + options.metricsHost + ":" + server.getAddress().getPort() + "/metrics");
  }

  public void close() {
    if (server != null) server.stop(0);
  }

  @Override
  public void onQueryStarted(QueryStartedEvent event) {}

  @Override
  public void onQueryTerminated(QueryTerminatedEvent event) {
    if (event.exception().isDefined())
      System.err.println("tickflow-spark: query " + event.id() + " failed: " + event.exception().get());
  }

  @Override
  public void onQueryProgress(QueryProgressEvent event) {
    StreamingQueryProgress p = event.progress();
    String name = p.name() == null ? String.valueOf(p.id()) : p.name();
    Snapshot s = queries.computeIfAbsent(name, k -> new Snapshot());
    synchronized (s) {
      // Idle queries report progress every 10 s with the same batch id: a batch is counted once.
      if (p.batchId() != s.lastBatchId) s.batches++;
      s.lastBatchId = p.batchId();
      s.inputRows += p.numInputRows();
      s.inputRate = finite(p.inputRowsPerSecond());
      s.processedRate = finite(p.processedRowsPerSecond());
      s.batchSeconds = p.batchDuration() / 1000.0;
      s.lastProgressSeconds = Instant.parse(p.timestamp()).toEpochMilli() / 1000.0;
      String wm = p.eventTime().get("watermark");
      if (wm != null) s.watermarkSeconds = Instant.parse(wm).toEpochMilli() / 1000.0;
      long stateRows = 0;
      for (StateOperatorProgress op : p.stateOperators()) {
        stateRows += op.numRowsTotal();
        s.dropped += op.numRowsDroppedByWatermark();
        // The dedupe operator's own count of the repeated (source, trade id) rows it dropped.
        Long repeats = op.customMetrics().get("numDroppedDuplicateRows");
        if (repeats != null) s.duplicates += repeats;
      }
      s.stateRows = stateRows;
      for (SourceProgress src : p.sources()) {
        String behind = src.metrics().get("maxOffsetsBehindLatest");
        if (behind != null) {
          s.behind = Double.parseDouble(behind);
          s.hasBehind = true;
        }
      }
    }
  }

  private static double finite(double d) {
    return Double.isFinite(d) ? d : 0;
  }

  String render() {
    StringBuilder b = new StringBuilder();
    Map<String, Snapshot> sorted = new TreeMap<>(queries);
    metric(b, sorted, "input_rows_per_second", "gauge", "rows per second arriving in the last micro-batch", s -> s.inputRate);
    metric(b, sorted, "processed_rows_per_second", "gauge", "rows per second processed in the last micro-batch", s -> s.processedRate);
    metric(b, sorted, "batch_duration_seconds", "gauge", "duration of the last micro-batch", s -> s.batchSeconds);
    metric(b, sorted, "watermark_timestamp_seconds", "gauge", "event-time watermark (0 before the first)", s -> s.watermarkSeconds);
    metric(b, sorted, "state_rows", "gauge", "rows held in the state store (open bars and the trade ids seen)", s -> (double) s.stateRows);
    metric(b, sorted, "offsets_behind_latest", "gauge", "largest number of Kafka messages a partition is behind", s -> s.hasBehind ? s.behind : Double.NaN);
    metric(b, sorted, "last_progress_timestamp_seconds", "gauge", "when the last micro-batch ended", s -> s.lastProgressSeconds);
    metric(b, sorted, "input_rows_total", "counter", "rows read since the job started", s -> (double) s.inputRows);
    metric(b, sorted, "rows_dropped_by_watermark_total", "counter", "late rows dropped since the job started: one per (symbol, interval, window) a micro-batch's late trades fell in", s -> (double) s.dropped);
    metric(b, sorted, "duplicates_dropped_total", "counter", "repeated (source, trade id) rows dropped since the job started (tickflow dead-letters them as duplicate_trade_id)", s -> (double) s.duplicates);
    metric(b, sorted, "batches_total", "counter", "micro-batches since the job started", s -> (double) s.batches);
    return b.toString();
  }

  private interface Field {
    double of(Snapshot s);
  }

  private static void metric(StringBuilder b, Map<String, Snapshot> qs, String name, String type, String help, Field f) {
    String full = "tickflow_spark_" + name;
    b.append("# HELP ").append(full).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(full).append(' ').append(type).append('\n');
    for (Map.Entry<String, Snapshot> e : qs.entrySet()) {
      double v;
      synchronized (e.getValue()) {
        v = f.of(e.getValue());
      }
      if (Double.isNaN(v)) continue;
      b.append(full).append("{query=\"").append(e.getKey()).append("\"} ").append(v).append('\n');
    }
  }
}
