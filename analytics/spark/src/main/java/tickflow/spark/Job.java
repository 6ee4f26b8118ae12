package tickflow.spark;

import static org.apache.spark.sql.functions.*;

import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.DataStreamWriter;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.MetadataBuilder;

/**
 * tickflow's bars on Spark Structured Streaming: reads the ticks topic, validates every message
 * like the processor does, and keeps OHLCV + VWAP bars for 1s 1m 5m 1h 1d in event time behind one
 * global watermark (update mode), upserted into spark_bars per micro-batch. Dead letters go to
 * spark_dead_letters from a second, stateless query on the same topic.
 */
public final class Job {
  private Job() {}

  /** tickflow's intervals and their lengths in microseconds (1d: UTC days). */
  static final String[] INTERVALS = {"1s", "1m", "5m", "1h", "1d"};
  static final long[] INTERVAL_US = {1_000_000L, 60_000_000L, 300_000_000L, 3_600_000_000L, 86_400_000_000L};

  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = Options.parse(args);
    } catch (Options.Bad e) {
      System.err.println("tickflow-spark: " + e.getMessage() + " [TF_CONFIG]");
      System.exit(2);
      return;
    }
    Store store = new Store(o);
    try {
      store.checkSchema();
    } catch (Exception e) {
      System.err.println("tickflow-spark: " + e.getMessage() + " [TF_POSTGRES]");
      System.exit(1);
      return;
    }
    SparkSession.Builder builder = SparkSession.builder().appName("tickflow-spark");
    // spark-submit sets spark.master; started with plain java, the job runs in this JVM on every core.
    if (System.getProperty("spark.master") == null) builder = builder.master("local[*]");
    SparkSession spark = builder
        .config("spark.sql.session.timeZone", "UTC")
        // fixed in the checkpoint; one partition suits one driver and a few cores
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    Progress progress = new Progress(o);
    spark.streams().addListener(progress);
    progress.serve();

    Dataset<Row> checked = validated(spark, o);
    StreamingQuery bars = start(bars(checked, o.watermarkMs).writeStream().outputMode(OutputMode.Update()),
        "spark_bars", o, (VoidFunction2<Dataset<Row>, Long>) (batch, id) -> store.writeBars(batch, id));
    StreamingQuery dead = start(checked.filter(col("reason").isNotNull()).writeStream().outputMode(OutputMode.Append()),
        "spark_dead_letters", o, (VoidFunction2<Dataset<Row>, Long>) (batch, id) -> store.writeDeadLetters(batch, id));
    System.err.println("tickflow-spark: reading " + o.topic + " from " + o.brokers + ", watermark " + o.watermarkMs
        + " ms, trigger " + o.trigger + ", checkpoint " + o.checkpoint);
    try {
      bars.awaitTermination();
      dead.awaitTermination();
    } finally {
      progress.close();
      spark.stop();
    }
  }

  static StreamingQuery start(DataStreamWriter<Row> w, String name, Options o, VoidFunction2<Dataset<Row>, Long> sink)
      throws Exception {
    w = w.queryName(name).option("checkpointLocation", o.checkpoint + "/" + name).foreachBatch(sink);
    w = o.trigger.equals("available-now") ? w.trigger(Trigger.AvailableNow())
        : w.trigger(Trigger.ProcessingTime(Options.duration("trigger", o.trigger), TimeUnit.MILLISECONDS));
    return w.start();
  }

  /** Every Kafka record as a row of Validate.SCHEMA: a trade, or a dead letter with its reason. */
  static Dataset<Row> validated(SparkSession spark, Options o) {
    Dataset<Row> raw = spark.readStream().format("kafka")
        .option("kafka.bootstrap.servers", o.brokers)
        .option("subscribe", o.topic)
        .option("startingOffsets", o.startingOffsets)
        .option("maxOffsetsPerTrigger", o.maxOffsetsPerTrigger)
        .option("failOnDataLoss", "true")
        .load()
        .select("topic", "partition", "offset", "key", "value");
    AvroTrades.Registry registry = o.schemaRegistryUrl == null ? null
        : new AvroTrades.Registry(o.schemaRegistryUrl, o.schemaRegistryUsername, o.schemaRegistryPassword);
    return raw.map((MapFunction<Row, Row>) r -> Validate.check(r.getString(0), r.getInt(1), r.getLong(2),
        (byte[]) r.get(3), (byte[]) r.get(4), registry), Encoders.row(Validate.SCHEMA));
  }

  /** The stateful aggregation: one row per trade and interval, grouped into bars behind the watermark. */
  static Dataset<Row> bars(Dataset<Row> checked, long watermarkMs) {
    Column[] ivs = new Column[INTERVALS.length];
    for (int i = 0; i < ivs.length; i++)
      ivs[i] = struct(lit(INTERVALS[i]).as("name"), lit(INTERVAL_US[i]).as("us"));
    // A repeated (source, trade id), e.g. a producer's retry, counts once, as in tickflow (which
    // dead-letters it as duplicate_trade_id). Deduplicated before the watermark is defined, so the
    // step drops no late trade itself (a late trade is dropped per interval by the aggregation
    // only); its state keeps every key, like tickflow's trade_ids table.
    Dataset<Row> trades = checked.filter(col("reason").isNull())
        .dropDuplicates("trade_key")
        .withColumn("event_time", timestamp_micros(col("micros")))
        .withWatermark("event_time", watermarkMs + " milliseconds")
        .withColumn("iv", explode(array(ivs)))
        .withColumn("bucket_us", col("micros").minus(pmod(col("micros"), col("iv.us"))));
    // The bucket as Spark's window struct (start, end), marked as the event-time column: Spark then
    // drops a row whose window ended at or before the watermark and evicts the bar's state, exactly
    // as for window(); window() itself cannot take one length per row.
    Column window = struct(timestamp_micros(col("bucket_us")).as("start"),
        timestamp_micros(col("bucket_us").plus(col("iv.us"))).as("end"))
        .as("window", new MetadataBuilder().putLong("spark.watermarkDelayMs", watermarkMs).build());
    Column order = struct(col("micros"), col("offset"));
    return trades
        .select(col("symbol"), col("iv.name").as("interval"), window, col("bucket_us"), col("price"),
            col("price").cast("decimal(18,8)").as("p"), col("size").cast("decimal(19,9)").as("q"),
            col("price_dp"), col("size_dp"), order.as("k"))
        .groupBy(col("symbol"), col("interval"), col("window"), col("bucket_us"))
        .agg(min_by(col("price"), col("k")).as("open"), max_by(col("price"), col("p")).as("high"),
            min_by(col("price"), col("p")).as("low"), max_by(col("price"), col("k")).as("close"),
            try_sum(col("q")).as("volume"), try_sum(col("p").multiply(col("q"))).as("pv"),
            max(col("size_dp")).as("volume_dp"), max(col("price_dp").plus(col("size_dp"))).as("pv_dp"),
            count(lit(1)).as("trades"), min(col("k")).as("first"), max(col("k")).as("last"))
        .select(col("symbol"), col("interval"), col("bucket_us"), col("open"), col("high"), col("low"), col("close"),
            col("volume"), col("volume_dp"), col("pv"), col("pv_dp"), col("trades"),
            col("first.micros").as("open_us"), col("first.offset").as("open_seq"),
            col("last.micros").as("close_us"), col("last.offset").as("close_seq"));
  }
}
