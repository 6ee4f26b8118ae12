package tickflow.spark;

import java.io.Serializable;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The job's settings: {@code --name value} arguments, each falling back to an environment variable
 * and then a default. A bad value stops the job with one line naming it (exit code 2).
 */
public final class Options implements Serializable {
  private static final long serialVersionUID = 1L;

  public final String brokers;
  public final String topic;
  public final String databaseUrl;
  public final String checkpoint;
  public final long watermarkMs;
  /** "available-now" (process the backlog, then stop) or a processing-time interval like "1 second". */
  public final String trigger;
  public final long maxOffsetsPerTrigger;
  public final String startingOffsets;
  public final int metricsPort;
  public final String metricsHost;
  /** The Confluent-compatible registry Avro-framed trades are read with (null: JSON only). */
  public final String schemaRegistryUrl;
  public final String schemaRegistryUsername;
  /** From the environment only, never an argument: a process list shows arguments. */
  public final String schemaRegistryPassword;

  private Options(Map<String, String> a) {
    brokers = get(a, "brokers", "KAFKA_BROKERS", null);
    topic = get(a, "topic", "KAFKA_TOPIC", "ticks");
    databaseUrl = get(a, "database-url", "DATABASE_URL", null);
    checkpoint = get(a, "checkpoint", "SPARK_CHECKPOINT_DIR", "./data/spark-checkpoint");
    watermarkMs = duration("watermark", get(a, "watermark", "SPARK_WATERMARK", "5s"));
    trigger = get(a, "trigger", "SPARK_TRIGGER", "1s");
    if (!trigger.equals("available-now")) duration("trigger", trigger);
    maxOffsetsPerTrigger = positive("max-offsets-per-trigger", get(a, "max-offsets-per-trigger", "SPARK_MAX_OFFSETS_PER_TRIGGER", "100000"));
    startingOffsets = get(a, "starting-offsets", "SPARK_STARTING_OFFSETS", "earliest");
    if (!startingOffsets.equals("earliest") && !startingOffsets.equals("latest"))
      throw new Bad("--starting-offsets must be earliest or latest, got " + startingOffsets);
    metricsPort = (int) port("metrics-port", get(a, "metrics-port", "SPARK_METRICS_PORT", "9464"));
    metricsHost = get(a, "metrics-host", "SPARK_METRICS_HOST", "127.0.0.1");
    schemaRegistryUrl = blankToNull(get(a, "schema-registry-url", "SCHEMA_REGISTRY_URL", null));
    schemaRegistryUsername = blankToNull(get(a, "schema-registry-username", "SCHEMA_REGISTRY_USERNAME", null));
    schemaRegistryPassword = blankToNull(System.getenv("SCHEMA_REGISTRY_PASSWORD"));
    if (schemaRegistryUrl != null) {
      try {
        URI u = new URI(schemaRegistryUrl);
        if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) throw new Bad("");
      } catch (Exception e) {
        throw new Bad("--schema-registry-url must be an http(s) URL, got " + schemaRegistryUrl);
      }
    }
    if (brokers == null || brokers.isBlank()) throw new Bad("--brokers (or KAFKA_BROKERS) is required");
    if (databaseUrl == null || databaseUrl.isBlank())
      throw new Bad("--database-url (or DATABASE_URL) is required");
    jdbcUrl();
  }

  /** A bad setting: its message names it. */
  public static final class Bad extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Bad(String message) {
      super(message);
    }
  }

  public static Options parse(String[] args) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--") || i + 1 >= args.length) throw new Bad("unexpected argument " + arg);
      a.put(arg.substring(2), args[++i]);
    }
    for (String k : a.keySet())
      if (!java.util.List.of("brokers", "topic", "database-url", "checkpoint", "watermark", "trigger",
              "max-offsets-per-trigger", "starting-offsets", "metrics-port", "metrics-host",
              "schema-registry-url", "schema-registry-username").contains(k))
        throw new Bad("unknown option --" + k);
    return new Options(a);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  private static String get(Map<String, String> a, String flag, String env, String dflt) {
    if (a.containsKey(flag)) return a.get(flag);
    String e = System.getenv(env);
    return e != null && !e.isEmpty() ? e : dflt;
  }

  /** "500ms", "5s", "2m", "1h" to milliseconds. */
  static long duration(String name, String v) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m|h)").matcher(v);
    if (!m.matches()) throw new Bad("--" + name + " must be a duration like 500ms, 5s, 2m or 1h, got " + v);
    long n = Long.parseLong(m.group(1));
    switch (m.group(2)) {
      case "ms": return n;
      case "s": return n * 1000;
      case "m": return n * 60_000;
      default: return n * 3_600_000;
    }
  }

  private static long positive(String name, String v) {
    try {
      long n = Long.parseLong(v);
      if (n > 0) return n;
    } catch (NumberFormatException e) {
      // falls through to the message
    }
    throw new Bad("--" + name + " must be a positive integer, got " + v);
  }

  private static long port(String name, String v) {
    try {
      long n = Long.parseLong(v);
      if (n >= 0 && n <= 65535) return n;
    } catch (NumberFormatException e) {
      // falls through to the message
    }
    throw new Bad("--" + name + " must be a port 0-65535 (0 = off), got " + v);
  }

  /** postgres://user:pass@host:port/db?... as a JDBC URL (credentials go to {@link #jdbcProperties}). */
  public String jdbcUrl() {
    URI u;
    try {
      u = new URI(databaseUrl);
    } catch (Exception e) {
      throw new Bad("--database-url is not a URL");
    }
    if (databaseUrl.startsWith("jdbc:")) return databaseUrl;
    if (!"postgres".equals(u.getScheme()) && !"postgresql".equals(u.getScheme()))
      throw new Bad("--database-url must be postgres://user@host:port/database");
    int port = u.getPort() < 0 ? 5432 : u.getPort();
    return "jdbc:postgresql://" + u.getHost() + ":" + port + u.getRawPath();
  }

  public Properties jdbcProperties() {
    Properties p = new Properties();
    if (databaseUrl.startsWith("jdbc:")) return p;
    String info = URI.create(databaseUrl).getRawUserInfo();
    if (info != null) {
      int colon = info.indexOf(':');
      p.setProperty("user", decode(colon < 0 ? info : info.substring(0, colon)));
      if (colon >= 0) p.setProperty("password", decode(info.substring(colon + 1)));
    }
    p.setProperty("ApplicationName", "tickflow-spark");
    return p;
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }
}
