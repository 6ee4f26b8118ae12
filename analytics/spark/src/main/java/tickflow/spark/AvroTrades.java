package tickflow.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Avro trades in the Confluent wire format (magic byte 0, schema id as 4 big-endian bytes, Avro
 * binary body), decoded with the writer's schema into the object tickflow's JSON format carries, so
 * the checks after it are the JSON path's. As tickflow's AvroTradeDecoder (src/bus/wire.ts): an id
 * the registry does not know is {@code unknown_schema}, a body that does not decode with its schema
 * is {@code undecodable}; a registry that cannot be reached is nobody's message's fault, so the
 * decoder waits for it (with backoff, up to a minute) and then fails the micro-batch, which the
 * restarted query runs again from its checkpoint.
 */
final class AvroTrades {
  private AvroTrades() {}

  static final int HEADER_BYTES = 5;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final DateTimeFormatter ISO =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);
  private static final long GIVE_UP_MS = 60_000;
  /** Writer schemas by id, for the life of the JVM (one registry a job): an id's schema never changes. */
  private static final Map<Long, Schema> SCHEMAS = new ConcurrentHashMap<>();
  /** A reader and a decoder per schema id and task thread, reused from message to message. */
  private static final ThreadLocal<Map<Long, GenericDatumReader<GenericRecord>>> READERS =
      ThreadLocal.withInitial(HashMap::new);
  private static final ThreadLocal<BinaryDecoder> DECODER = new ThreadLocal<>();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Where the registry is and how to sign in; serialisable, so it travels with the query plan. */
  record Registry(String url, String username, String password) implements java.io.Serializable {}

  /** A message that is not a trade: its dead-letter reason and detail. */
  record Dead(String reason, String detail) {}

  static boolean framed(byte[] value) {
    return value.length >= HEADER_BYTES && value[0] == 0;
  }

  /** The trade as a JSON object, or why it is not one. */
  static Object decode(Registry registry, byte[] value) {
    int id = ((value[1] & 0xff) << 24) | ((value[2] & 0xff) << 16) | ((value[3] & 0xff) << 8) | (value[4] & 0xff);
    long unsigned = id & 0xffffffffL;
    if (registry == null)
      return new Dead("unknown_schema", "schema id " + unsigned + ", but no schema registry is configured");
    Object schema = schema(registry, unsigned);
    if (schema instanceof Dead d) return d;
    GenericRecord r;
    try {
      BinaryDecoder in = DecoderFactory.get().binaryDecoder(value, HEADER_BYTES, value.length - HEADER_BYTES, DECODER.get());
      DECODER.set(in);
      r = READERS.get().computeIfAbsent(unsigned, k -> new GenericDatumReader<>((Schema) schema)).read(null, in);
      if (!in.isEnd()) return new Dead("undecodable", "schema id " + unsigned + ": trailing data");
    } catch (IOException | RuntimeException e) {
      return new Dead("undecodable", "schema id " + unsigned + ": " + e.getMessage());
    }
    return toJson(r);
  }

  /** The fields the JSON format names; one the writer's schema lacks stays absent, for the checks to name. */
  static ObjectNode toJson(GenericRecord r) {
    ObjectNode n = JSON.createObjectNode();
    n.put("v", 1);
    n.put("type", "trade");
    Schema s = r.getSchema();
    for (String f : new String[] {"symbol", "price", "size", "source", "id"})
      if (s.getField(f) != null && r.get(f) != null) n.put(f, r.get(f).toString());
    for (String f : new String[] {"ts", "recvTs"})
      if (s.getField(f) != null && r.get(f) instanceof Long us) n.put(f, microsToIso(us));
    if (s.getField("conditions") != null && r.get("conditions") instanceof java.util.Collection<?> c && !c.isEmpty()) {
      ArrayNode a = n.putArray("conditions");
      for (Object x : c) a.add(String.valueOf(x));
    }
    return n;
  }

  static String microsToIso(long us) {
    return ISO.format(Instant.ofEpochSecond(Math.floorDiv(us, 1_000_000L), Math.floorMod(us, 1_000_000L) * 1000L));
  }

  private static Object schema(Registry registry, long id) {
    Schema cached = SCHEMAS.get(id);
    if (cached != null) return cached;
    String text = fetch(registry, id);
    if (text == null) return new Dead("unknown_schema", "schema id " + id + " is not in the registry");
    Schema parsed;
    try {
      parsed = new Schema.Parser().parse(text);
    } catch (RuntimeException e) {
      return new Dead("undecodable", "schema id " + id + " is not an Avro schema tickflow reads: " + e.getMessage());
    }
    SCHEMAS.put(id, parsed);
    return parsed;
  }

  /** GET /schemas/ids/{id}: the schema text, or null for an id the registry does not know (404). */
  private static String fetch(Registry registry, long id) {
    URI uri = URI.create(registry.url().replaceAll("/+$", "") + "/schemas/ids/" + id);
    HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5))
        .header("accept", "application/vnd.schemaregistry.v1+json, application/json");
    if (registry.username() != null) {
      String pair = registry.username() + ":" + (registry.password() == null ? "" : registry.password());
      req.header("authorization", "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
    }
    long deadline = System.currentTimeMillis() + GIVE_UP_MS;
    long delay = 200;
    String why;
    for (;;) {
      try {
        HttpResponse<String> res = HTTP.send(req.build(), HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() == 404) return null;
        if (res.statusCode() == 200) {
          JsonNode schema = JSON.readTree(res.body()).get("schema");
          if (schema == null || !schema.isTextual())
            throw new IllegalStateException("schema registry at " + registry.url() + " answered without a schema for id " + id);
          return schema.textValue();
        }
        why = "HTTP " + res.statusCode();
        if (res.statusCode() < 500 && res.statusCode() != 429)
          throw new IllegalStateException("schema registry at " + registry.url() + " refused GET schema id " + id + ": " + why);
      } catch (IOException e) {
        why = String.valueOf(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while reading schema id " + id, e);
      }
      if (System.currentTimeMillis() + delay > deadline)
        throw new IllegalStateException("schema registry at " + registry.url() + " unreachable for a minute (" + why + ")");
      try {
        Thread.sleep(delay / 2 + (long) (Math.random() * delay / 2));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the schema registry", e);
      }
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
