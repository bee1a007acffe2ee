package io.zlayer.worker.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Typed, key-naming accessors shared by the option records. Package-private. */
final class Values {
  static final String MODE = "worker-tier";

  /** Every top-level key of the shared (seed) schema plus our own, in documentation order. */
  static final List<String> ALL_KEYS = List.of(
      "mode", "role", "node_id", "peers", "worker_grpc_addr", "servers", "token_file",
      "identity_dir", "worker_ca_dir", "data_dir", "store", "heartbeat_min_ttl", "heartbeat_max_ttl",
      "heartbeat_grace", "max_heartbeats_per_second", "failover_heartbeat_ttl", "labels",
      // ours
      "tls_names", "worker_cert_validity", "node_gc_threshold", "bridge_port", "protocol", "executor", "api_addr",
      "log_format", "operator_http_addr", "leave_on_terminate",
      "connection_idle_timeout", "tls_handshake_timeout", "http_request_timeout", "http2_max_concurrent_streams",
      "history_window", "max_held_polls", "max_connections");

  static final Set<String> LIST_KEYS = Set.of("servers", "peers", "tls_names");
  static final Set<String> INTEGER_KEYS = Set.of("node_id", "max_heartbeats_per_second", "bridge_port",
      "http2_max_concurrent_streams", "history_window", "max_held_polls", "max_connections");

  private Values() {
  }

  /** Rejects unknown keys, checks {@code mode} and {@code role}. */
  static void checkCommon(JsonObject json, Role expected) {
    if (json == null) {
      throw new ConfigException("config: no configuration given");
    }
    for (String key : json.fieldNames()) {
      if (!ALL_KEYS.contains(key)) {
        throw new ConfigException(key + ": unknown key (known keys: " + String.join(", ", ALL_KEYS) + ")");
      }
    }
    Object mode = json.getValue("mode");
    if (mode != null && !MODE.equals(mode)) {
      throw new ConfigException("mode: expected " + MODE + ", got " + describe(mode));
    }
    Object role = json.getValue("role");
    if (role != null) {
      String want = lower(expected);
      if (!want.equals(role)) {
        String what = expected == Role.SERVER ? "a controller" : "a worker";
        throw new ConfigException("role: expected " + want + " for " + what + " config, got "
            + (role instanceof String s ? s : describe(role)));
      }
    }
  }

  static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  static <E extends Enum<E>> E enumValue(JsonObject json, String key, Class<E> type, E dflt) {
    Object v = json.getValue(key);
    if (v == null) {
      return dflt;
    }
    List<String> names = new ArrayList<>();
    for (E e : type.getEnumConstants()) {
      names.add(lower(e));
      if (lower(e).equals(v)) {
        return e;
      }
    }
    throw new ConfigException(key + ": expected one of " + String.join(", ", names) + ", got " + describe(v));
  }

  /** A short, quoted rendering of a config value for error messages. */
  static String describe(Object v) {
    if (v == null) {
      return "nothing";
    }
    if (v instanceof String s) {
      return "\"" + s + "\"";
    }
    if (v instanceof JsonObject || v instanceof Map) {
      return "a mapping";
    }
    if (v instanceof JsonArray || v instanceof List) {
      return "a list";
    }
    return String.valueOf(v);
  }

  /** An integral number (or integer string) within [min, max]; else "key: expected what, got v". */
  static long integer(JsonObject json, String key, long min, long max, long dflt, String what) {
    Object v = json.getValue(key);
    if (v == null) {
      return dflt;
    }
    Long n = null;
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      n = ((Number) v).longValue();
    } else if (v instanceof BigInteger b && b.bitLength() < 64) {
      n = b.longValue();
    } else if (v instanceof String s && s.trim().matches("-?\\d{1,18}")) {
      n = Long.parseLong(s.trim());
    }
    if (n == null || n < min || n > max) {
      throw new ConfigException(key + ": expected " + what + ", got " + describe(v));
    }
    return n;
  }

  /** A boolean (or the string true/false, as an environment override gives it). */
  static boolean bool(JsonObject json, String key, boolean dflt) {
    Object v = json.getValue(key);
    if (v == null) {
      return dflt;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s && (s.trim().equals("true") || s.trim().equals("false"))) {
      return Boolean.parseBoolean(s.trim());
    }
    throw new ConfigException(key + ": expected true or false, got " + describe(v));
  }

  static String string(JsonObject json, String key, String dflt) {
    Object v = json.getValue(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof String s)) {
      throw new ConfigException(key + ": expected a string, got " + describe(v));
    }
    return s;
  }

  static Path path(JsonObject json, String key, Path dflt) {
    String s = string(json, key, null);
    if (s == null) {
      return dflt;
    }
    if (s.isBlank()) {
      throw new ConfigException(key + ": empty path");
    }
    try {
      return Path.of(s.trim());
    } catch (InvalidPathException e) {
      throw new ConfigException(key + ": '" + s + "' is not a valid path (" + e.getReason() + ")");
    }
  }

  static Duration duration(JsonObject json, String key, Duration dflt) {
    Object v = json.getValue(key);
    return v == null ? dflt : Durations.parse(key, v);
  }

  /** A list of non-empty strings; a single string is split on commas. */
  static List<String> stringList(JsonObject json, String key) {
    Object v = json.getValue(key);
    if (v == null) {
      return List.of();
    }
    List<Object> items = new ArrayList<>();
    if (v instanceof String s) {
      for (String part : s.split(",")) {
        if (!part.isBlank()) {
          items.add(part.trim());
        }
      }
    } else if (v instanceof JsonArray a) {
      a.forEach(items::add);
    } else {
      throw new ConfigException(key + ": expected a list of strings, got " + describe(v));
    }
    List<String> out = new ArrayList<>();
    for (Object item : items) {
      if (!(item instanceof String s) || s.isBlank()) {
        throw new ConfigException(key + ": expected a list of non-empty strings, got an item " + describe(item));
      }
      out.add(s.trim());
    }
    return List.copyOf(out);
  }

  /** {@code labels}: string keys to scalar values, stringified. */
  static Map<String, String> labels(JsonObject json) {
    Object v = json.getValue("labels");
    if (v == null) {
      return Map.of();
    }
    if (!(v instanceof JsonObject obj)) {
      throw new ConfigException("labels: expected a mapping of name: value, got " + describe(v));
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : obj) {
      String k = e.getKey();
      if (k == null || k.isBlank()) {
        throw new ConfigException("labels: label names must not be empty");
      }
      Object lv = e.getValue();
      if (lv instanceof String || lv instanceof Number || lv instanceof Boolean) {
        out.put(k, String.valueOf(lv));
      } else if (lv == null) {
        throw new ConfigException("labels." + k + ": has no value (use \"\" for an empty one)");
      } else {
        throw new ConfigException("labels." + k + ": expected a string, number or boolean, got " + describe(lv));
      }
    }
    return Collections.unmodifiableMap(out);
  }

  static JsonObject labelsJson(Map<String, String> labels) {
    JsonObject o = new JsonObject();
    labels.forEach(o::put);
    return o;
  }
}
