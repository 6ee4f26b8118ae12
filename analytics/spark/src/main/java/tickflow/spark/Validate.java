package tickflow.spark;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Iterator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The same checks, in the same order and with the same reasons, as tickflow's validator
 * (src/processor/validate.ts), plus one of Spark's own: a price or size outside the decimal types
 * whose product Spark holds exactly is dead-lettered as {@code decimal_range}, never rounded.
 * Pure: one Kafka record in, one row out (a trade, or a dead letter with its reason).
 */
public final class Validate {
  private Validate() {}

  /** Spark's exact domain: price decimal(18,8) x size decimal(19,9) = decimal(38,17), exact. */
  public static final int PRICE_INT = 10, PRICE_FRAC = 8, SIZE_INT = 10, SIZE_FRAC = 9;

  public static final StructType SCHEMA =
      new StructType()
          .add("topic", DataTypes.StringType)
          .add("partition", DataTypes.IntegerType)
          .add("offset", DataTypes.LongType)
          .add("key", DataTypes.StringType)
          .add("payload", DataTypes.BinaryType)
          .add("symbol", DataTypes.StringType)
          .add("price", DataTypes.StringType)
          .add("size", DataTypes.StringType)
          .add("micros", DataTypes.LongType)
          .add("price_dp", DataTypes.IntegerType)
          .add("size_dp", DataTypes.IntegerType)
          .add("reason", DataTypes.StringType)
          .add("detail", DataTypes.StringType)
          // (source, trade id) as one string, or the record's own position when it has no id: the
          // key the bars query drops repeats on, like tickflow's trade_ids.
          .add("trade_key", DataTypes.StringType);

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final Pattern SYMBOL = Pattern.compile("[A-Z0-9][A-Z0-9.\\-/:]{0,19}");
  private static final Pattern PRICE = Pattern.compile("(0|[1-9]\\d{0,11})(\\.\\d{1,10})?");
  private static final Pattern ZERO = Pattern.compile("0(\\.0*)?");
  private static final Pattern SIZE = Pattern.compile("(0|[1-9]\\d{0,14})(\\.\\d{1,12})?");
  private static final Pattern SOURCE = Pattern.compile("[A-Za-z0-9_.:-]{1,64}");
  private static final Pattern PRINTABLE = Pattern.compile("[^\\u0000-\\u001f\\u007f]+");
  private static final Pattern ISO =
      Pattern.compile("(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?Z");

  /**
   * A Kafka record (topic, partition, offset, key, value) to a row of {@link #SCHEMA}; Avro-framed
   * values are read with their writer schema from {@code registry} (null: none configured).
   */
  public static Row check(String topic, int partition, long offset, byte[] keyBytes, byte[] value,
      AvroTrades.Registry registry) {
    String key = keyBytes == null ? null : new String(keyBytes, StandardCharsets.UTF_8);
    Check c = new Check(topic, partition, offset, key, value, registry);
    return c.run();
  }

  private static final class Check {
    final String topic;
    final int partition;
    final long offset;
    final String key;
    final byte[] value;
    final AvroTrades.Registry registry;

    Check(String topic, int partition, long offset, String key, byte[] value, AvroTrades.Registry registry) {
      this.topic = topic;
      this.partition = partition;
      this.offset = offset;
      this.key = key;
      this.value = value;
      this.registry = registry;
    }

    Row dead(String reason, String detail) {
      return RowFactory.create(
          topic, partition, offset, printable(key == null ? "" : key), value, null, null, null, null,
          null, null, reason, printable(detail), null);
    }

    Row run() {
      if (value == null) return dead("malformed_json", "empty message");
      JsonNode n;
      // The first byte chooses, as in tickflow: 0 is the Confluent wire format (Avro), else JSON.
      if (AvroTrades.framed(value)) {
        Object decoded = AvroTrades.decode(registry, value);
        if (decoded instanceof AvroTrades.Dead d) return dead(d.reason(), d.detail());
        n = (JsonNode) decoded;
      } else
        try {
          // Decoded like JavaScript's Buffer.toString('utf8'): invalid bytes become U+FFFD.
          n = JSON.readTree(new String(value, StandardCharsets.UTF_8));
        } catch (Exception e) {
          return dead("malformed_json", String.valueOf(e.getMessage()).split("\n")[0]);
        }
      String schema = schemaIssue(n);
      if (schema != null) return dead("schema", schema);
      if (n.get("v").asDouble() != 1.0) return dead("unsupported_version", "v=" + n.get("v").asText());
      String symbol = n.get("symbol").textValue();
      if (!SYMBOL.matcher(symbol).matches())
        return dead("bad_symbol", "symbol " + quote(symbol));
      if (key == null) return dead("missing_key", "no message key; expected " + symbol);
      if (!key.equals(symbol)) return dead("key_mismatch", "key " + quote(key) + " ≠ symbol " + symbol);
      String price = n.get("price").textValue();
      if (!PRICE.matcher(price).matches() || ZERO.matcher(price).matches())
        return dead("bad_price", "price " + quote(price));
      String size = n.get("size").textValue();
      if (!SIZE.matcher(size).matches()) return dead("bad_size", "size " + quote(size));
      JsonNode id = n.get("id");
      if (id != null) {
        String why = badTradeId(id.textValue());
        if (why != null) return dead("bad_trade_id", why);
      }
      String ts = n.get("ts").textValue();
      Long micros = parseMicros(ts);
      if (micros == null) return dead("bad_timestamp", "ts " + quote(ts));
      JsonNode recv = n.get("recvTs");
      if (recv != null && parseMicros(recv.textValue()) == null)
        return dead("bad_timestamp", "recvTs " + quote(recv.textValue()));
      int priceDp = fractionDigits(price), sizeDp = fractionDigits(size);
      if (integerDigits(price) > PRICE_INT || priceDp > PRICE_FRAC)
        return dead("decimal_range", "price " + price + " is outside decimal(18,8)");
      if (integerDigits(size) > SIZE_INT || sizeDp > SIZE_FRAC)
        return dead("decimal_range", "size " + size + " is outside decimal(19,9)");
      String tradeKey = id == null ? "@" + topic + "/" + partition + "/" + offset
          : n.get("source").textValue() + "\u0000" + id.textValue();
      return RowFactory.create(
          topic, partition, offset, key, null, symbol, price, size, micros, priceDp, sizeDp, null,
          null, tradeKey);
    }
  }

  /** The first way the object misses the wire schema, or null (the validator's zod schema). */
  static String schemaIssue(JsonNode n) {
    if (!n.isObject()) return "(root): expected object";
    if (n.get("v") == null || !n.get("v").isNumber()) return "v: expected number";
    if (n.get("type") == null || !"trade".equals(n.get("type").textValue()))
      return "type: expected \"trade\"";
    for (String f : new String[] {"symbol", "ts", "price", "size", "source"})
      if (n.get(f) == null || !n.get(f).isTextual()) return f + ": expected string";
    if (!SOURCE.matcher(n.get("source").textValue()).matches())
      return "source: source must be 1-64 of A-Z a-z 0-9 _ . : -";
    for (String f : new String[] {"id", "recvTs"})
      if (n.has(f) && !n.get(f).isTextual()) return f + ": expected string";
    JsonNode conditions = n.get("conditions");
    if (conditions != null) {
      if (!conditions.isArray()) return "conditions: expected array";
      if (conditions.size() > 32) return "conditions: too many";
      for (Iterator<JsonNode> it = conditions.elements(); it.hasNext(); ) {
        JsonNode c = it.next();
        if (!c.isTextual()) return "conditions: expected string";
        String s = c.textValue();
        if (s.length() > 16 || !PRINTABLE.matcher(s).matches())
          return "conditions: a condition is 1-16 printable characters";
      }
    }
    return null;
  }

  static String badTradeId(String id) {
    for (int i = 0; i < id.length(); i++) {
      char ch = id.charAt(i);
      if (Character.isHighSurrogate(ch) && i + 1 < id.length() && Character.isLowSurrogate(id.charAt(i + 1))) i++;
      else if (Character.isSurrogate(ch)) return "id holds a lone UTF-16 surrogate (not valid Unicode)";
    }
    if (id.length() > 128 || !PRINTABLE.matcher(id).matches())
      return "id must be 1-128 printable characters";
    return null;
  }

  /**
   * Strict ISO-8601 UTC with a real calendar date, years 1970-2199, to microseconds since the epoch;
   * digits past the sixth are truncated, as tickflow does. Null when invalid.
   */
  public static Long parseMicros(String s) {
    Matcher m = ISO.matcher(s);
    if (!m.matches()) return null;
    int year = Integer.parseInt(m.group(1)), month = Integer.parseInt(m.group(2));
    int day = Integer.parseInt(m.group(3)), hour = Integer.parseInt(m.group(4));
    int minute = Integer.parseInt(m.group(5)), second = Integer.parseInt(m.group(6));
    if (year < 1970 || year > 2199 || hour > 23 || minute > 59 || second > 59) return null;
    LocalDate date;
    try {
      date = LocalDate.of(year, month, day);
    } catch (DateTimeException e) {
      return null;
    }
    long epochSecond = date.atStartOfDay(ZoneOffset.UTC).toEpochSecond() + hour * 3600L + minute * 60L + second;
    String f = m.group(7) == null ? "" : m.group(7);
    String six = (f + "000000").substring(0, 6);
    return epochSecond * 1_000_000L + Long.parseLong(six);
  }

  static int fractionDigits(String decimal) {
    int dot = decimal.indexOf('.');
    return dot < 0 ? 0 : decimal.length() - dot - 1;
  }

  static int integerDigits(String decimal) {
    int dot = decimal.indexOf('.');
    return dot < 0 ? decimal.length() : dot;
  }

  static String quote(String s) {
    String cut = s.length() > 40 ? s.substring(0, 40) : s;
    try {
      return JSON.writeValueAsString(cut);
    } catch (Exception e) {
      return cut;
    }
  }

  /** Text columns cannot hold NUL; the payload keeps the exact bytes. */
  static String printable(String s) {
    if (s == null) return null;
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == 0) b.append('\uFFFD');
      else if (Character.isHighSurrogate(ch) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        b.append(ch).append(s.charAt(++i));
      } else if (Character.isSurrogate(ch)) b.append('\uFFFD');
      else b.append(ch);
    }
    return b.toString();
  }
}
