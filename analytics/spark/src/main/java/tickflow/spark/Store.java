package tickflow.spark;

import java.io.Serializable;
import java.io.StringReader;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Iterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * PostgreSQL side of the job. Every micro-batch is written in one transaction together with its
 * row in spark_batches; a batch id already there was committed before (Spark replays the last
 * batch after a crash) and is skipped, so a replay changes nothing.
 */
public final class Store implements Serializable {
  private static final long serialVersionUID = 1L;
  private final Options options;

  public Store(Options options) {
    this.options = options;
  }

  Connection connect() throws SQLException {
    return DriverManager.getConnection(options.jdbcUrl(), options.jdbcProperties());
  }

  /** Refuses to start on a store whose daily bars are not in UTC, or without the job's tables. */
  public void checkSchema() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      try (ResultSet r = s.executeQuery("select to_regclass('spark_bars') is not null and to_regclass('spark_batches') is not null")) {
        r.next();
        if (!r.getBoolean(1))
          throw new IllegalStateException("the database has no spark_bars table: run `tickflow migrate` first");
      }
      try (ResultSet r = s.executeQuery("select value from settings where key = 'bars_timezone'")) {
        String tz = r.next() ? r.getString(1) : "UTC";
        if (!tz.equals("UTC"))
          throw new IllegalStateException("the store's daily bars are in " + tz + "; the Spark job builds daily bars in UTC only");
      }
    }
  }

  /** True when this batch id was recorded now; false when it was committed before (a replay). */
  private static boolean claim(Connection c, String query, String queryId, long batchId, long rows, long outOfRange)
      throws SQLException {
    try (PreparedStatement p = c.prepareStatement(
        "insert into spark_batches (query, query_id, batch_id, rows, out_of_range) values (?, ?, ?, ?, ?) on conflict do nothing")) {
      p.setString(1, query);
      p.setString(2, queryId);
      p.setLong(3, batchId);
      p.setLong(4, rows);
      p.setLong(5, outOfRange);
      return p.executeUpdate() == 1;
    }
  }

  /** Upserts a batch of bar updates (Spark's update mode gives whole bars, so a bar is replaced). */
  public void writeBars(Dataset<Row> batch, long batchId) throws SQLException, java.io.IOException {
    StringBuilder csv = new StringBuilder();
    long rows = 0, outOfRange = 0;
    for (Iterator<Row> it = batch.toLocalIterator(); it.hasNext(); ) {
      Row r = it.next();
      BigDecimal volume = r.getDecimal(r.fieldIndex("volume")), pv = r.getDecimal(r.fieldIndex("pv"));
      if (volume == null || pv == null) {
        // try_sum left decimal(38,17): the exact value is not known, so nothing is written.
        outOfRange++;
        continue;
      }
      rows++;
      csv.append(r.getString(r.fieldIndex("symbol"))).append(',')
          .append(r.getString(r.fieldIndex("interval"))).append(',')
          .append(iso(r.getLong(r.fieldIndex("bucket_us")))).append(',')
          .append(r.getString(r.fieldIndex("open"))).append(',')
          .append(r.getString(r.fieldIndex("high"))).append(',')
          .append(r.getString(r.fieldIndex("low"))).append(',')
          .append(r.getString(r.fieldIndex("close"))).append(',')
          .append(volume.toPlainString()).append(',')
          .append(r.getInt(r.fieldIndex("volume_dp"))).append(',')
          .append(pv.toPlainString()).append(',')
          .append(r.getInt(r.fieldIndex("pv_dp"))).append(',')
          .append(r.getLong(r.fieldIndex("trades"))).append(',')
          .append(iso(r.getLong(r.fieldIndex("open_us")))).append(',')
          .append(r.getLong(r.fieldIndex("open_seq"))).append(',')
          .append(iso(r.getLong(r.fieldIndex("close_us")))).append(',')
          .append(r.getLong(r.fieldIndex("close_seq"))).append('\n');
    }
    try (Connection c = connect()) {
      c.setAutoCommit(false);
      if (!claim(c, "spark_bars", queryId(batch), batchId, rows, outOfRange)) {
        c.rollback();
        skipped("spark_bars", batchId);
        return;
      }
      try (Statement s = c.createStatement()) {
        s.execute("create temp table spark_bars_in (symbol text, interval text, bucket timestamptz, open numeric, high numeric,"
            + " low numeric, close numeric, volume numeric, volume_dp int, pv numeric, pv_dp int, trades bigint,"
            + " open_ts timestamptz, open_seq bigint, close_ts timestamptz, close_seq bigint) on commit drop");
      }
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      copy.copyIn("copy spark_bars_in from stdin with (format csv)", new StringReader(csv.toString()));
      // Scales as PostgreSQL's own sums give them (the widest term's), so vwap = pv / volume is the
      // same numeric, digit for digit, as a GROUP BY over the trades.
      try (PreparedStatement p = c.prepareStatement(
          "insert into spark_bars (symbol, interval, bucket, open, high, low, close, volume, pv, vwap, trades,"
              + " open_ts, open_seq, close_ts, close_seq, batch_id)"
              + " select symbol, interval, bucket, open, high, low, close, round(volume, volume_dp), round(pv, pv_dp),"
              + " round(pv, pv_dp) / nullif(round(volume, volume_dp), 0), trades, open_ts, open_seq, close_ts, close_seq, ?"
              + " from spark_bars_in"
              + " on conflict (symbol, interval, bucket) do update set open = excluded.open, high = excluded.high,"
              + " low = excluded.low, close = excluded.close, volume = excluded.volume, pv = excluded.pv,"
              + " vwap = excluded.vwap, trades = excluded.trades, open_ts = excluded.open_ts, open_seq = excluded.open_seq,"
              + " close_ts = excluded.close_ts, close_seq = excluded.close_seq, batch_id = excluded.batch_id, updated_at = now()")) {
        p.setLong(1, batchId);
        p.executeUpdate();
      }
      c.commit();
    }
  }

  /** Inserts a batch's dead letters (keyed by Kafka position: a replay inserts nothing twice). */
  public void writeDeadLetters(Dataset<Row> batch, long batchId) throws SQLException {
    try (Connection c = connect()) {
      c.setAutoCommit(false);
      long rows = 0;
      try (PreparedStatement p = c.prepareStatement(
          "insert into spark_dead_letters (topic, partition, \"offset\", reason, detail, key, payload, batch_id)"
              + " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing")) {
        for (Iterator<Row> it = batch.toLocalIterator(); it.hasNext(); ) {
          Row r = it.next();
          p.setString(1, r.getString(r.fieldIndex("topic")));
          p.setInt(2, r.getInt(r.fieldIndex("partition")));
          p.setLong(3, r.getLong(r.fieldIndex("offset")));
          p.setString(4, r.getString(r.fieldIndex("reason")));
          p.setString(5, r.getString(r.fieldIndex("detail")));
          p.setString(6, r.getString(r.fieldIndex("key")));
          p.setBytes(7, (byte[]) r.get(r.fieldIndex("payload")));
          p.setLong(8, batchId);
          p.addBatch();
          rows++;
        }
        if (!claim(c, "spark_dead_letters", queryId(batch), batchId, rows, 0)) {
          c.rollback();
          skipped("spark_dead_letters", batchId);
          return;
        }
        if (rows > 0) p.executeBatch();
      }
      c.commit();
    }
  }

  /** Spark's id of the running query (kept in its checkpoint), set on the thread that runs foreachBatch. */
  static String queryId(Dataset<Row> batch) {
    String id = batch.sparkSession().sparkContext().getLocalProperty("sql.streaming.queryId");
    if (id == null) throw new IllegalStateException("no streaming query id on the foreachBatch thread");
    return id;
  }

  private static void skipped(String query, long batchId) {
    System.err.println("tickflow-spark: batch " + batchId + " of " + query + " was committed before: skipped");
  }

  static String iso(long micros) {
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L).toString();
  }
}
