package io.zlayer.worker.controller.operator;

import io.zlayer.worker.controller.core.ControlPlaneException;
import io.zlayer.worker.controller.core.JsonNumbers;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import java.util.Map;
import java.util.Set;

/**
 * The shape of every operator request body, checked before any handler runs, as strictly as the
 * config: only the fields an address takes, each of its type and within its range. A wrong one is
 * an INVALID_ARGUMENT naming the field ({@code service} as an object, {@code uses} of 2^32+1).
 */
final class OperatorRequests {
  static final long MAX_TOKEN_TTL_SECS = 366L * 24 * 3600;
  static final long MAX_TOKEN_USES = 1_000_000;
  static final int MAX_NAME = 253;
  static final int MAX_TEXT = 4 * 1024;
  static final int MAX_COMMAND = 64 * 1024;
  static final int MAX_YAML = 512 * 1024;
  static final int MAX_INDICES = 10_000;
  static final int MAX_ENV = 1_000;
  static final long MAX_DEADLINE_SECS = 30L * 24 * 3600;

  private enum Type { NODE_ID, NAME, TEXT, COMMAND, YAML, COUNT, TTL, USES, DEADLINE, INDICES, ENV }

  private static final Map<String, Map<String, Type>> FIELDS = Map.ofEntries(
      Map.entry(Addresses.OPERATOR_TOKEN_CREATE, Map.of("ttl_secs", Type.TTL, "uses", Type.USES)),
      Map.entry(Addresses.OPERATOR_NODES_LIST, Map.of()),
      Map.entry(Addresses.OPERATOR_ASSIGN, Map.of("node_id", Type.NODE_ID, "service", Type.NAME, "role", Type.NAME, "command", Type.COMMAND, "indices", Type.INDICES, "env", Type.ENV)),
      Map.entry(Addresses.OPERATOR_UNASSIGN, Map.of("node_id", Type.NODE_ID, "service", Type.NAME)),
      Map.entry(Addresses.OPERATOR_DRAIN, Map.of("node_id", Type.NODE_ID, "deadline_secs", Type.DEADLINE)),
      Map.entry(Addresses.OPERATOR_SHUTDOWN, Map.of("node_id", Type.NODE_ID, "reason", Type.TEXT)),
      Map.entry(Addresses.OPERATOR_PUSH_CONFIG, Map.of("node_id", Type.NODE_ID, "version", Type.COUNT, "yaml", Type.YAML)),
      Map.entry(Addresses.OPERATOR_REVOKE, Map.of("node_id", Type.NODE_ID)),
      Map.entry(Addresses.OPERATOR_UNDRAIN, Map.of("node_id", Type.NODE_ID)),
      Map.entry(Addresses.OPERATOR_DEREGISTER, Map.of("node_id", Type.NODE_ID, "reason", Type.TEXT)),
      Map.entry(Addresses.OPERATOR_GC, Map.of()),
      Map.entry(Addresses.OPERATOR_CONTROLLERS, Map.of()));

  private OperatorRequests() {
  }

  /** Throws INVALID_ARGUMENT naming the first wrong field of {@code body} for {@code address}. */
  static void validate(String address, JsonObject body) {
    Map<String, Type> fields = FIELDS.get(address);
    if (fields == null) {
      return; // not an operator address: its consumer checks its own body
    }
    for (String name : body.fieldNames()) {
      Type type = fields.get(name);
      if (type == null) {
        throw ControlPlaneException.invalidArgument("unknown field " + printable(name) + " (this request takes "
            + (fields.isEmpty() ? "none" : String.join(", ", new java.util.TreeSet<>(fields.keySet()))) + ")");
      }
      Object value = body.getValue(name);
      if (value != null) {
        check(name, type, value);
      }
    }
  }

  private static void check(String name, Type type, Object value) {
    switch (type) {
      case NODE_ID -> integer(name, value, 1, Long.MAX_VALUE);
      case COUNT -> integer(name, value, 0, Long.MAX_VALUE);
      case TTL -> integer(name, value, 1, MAX_TOKEN_TTL_SECS);
      case USES -> integer(name, value, 1, MAX_TOKEN_USES);
      case DEADLINE -> integer(name, value, 0, MAX_DEADLINE_SECS);
      case NAME -> string(name, value, MAX_NAME);
      case TEXT -> string(name, value, MAX_TEXT);
      case COMMAND -> string(name, value, MAX_COMMAND);
      case YAML -> string(name, value, MAX_YAML);
      case INDICES -> {
        if (!(value instanceof JsonArray a) || a.size() > MAX_INDICES) {
          throw ControlPlaneException.invalidArgument(name + " must be an array of at most " + MAX_INDICES + " indices");
        }
        for (int i = 0; i < a.size(); i++) {
          integer(name + "[" + i + "]", a.getValue(i), 0, Integer.MAX_VALUE);
        }
      }
      case ENV -> {
        if (!(value instanceof JsonObject env) || env.size() > MAX_ENV) {
          throw ControlPlaneException.invalidArgument(name + " must be an object of at most " + MAX_ENV + " strings");
        }
        for (String key : env.fieldNames()) {
          if (key.isEmpty() || key.length() > MAX_NAME) {
            throw ControlPlaneException.invalidArgument(name + " names must be 1-" + MAX_NAME + " characters");
          }
          string(name + "." + key, env.getValue(key), MAX_COMMAND);
        }
      }
      default -> throw new AssertionError(type);
    }
  }

  private static void integer(String name, Object value, long min, long max) {
    try {
      JsonNumbers.integer(value, min, max);
    } catch (JsonNumbers.Refused e) {
      throw ControlPlaneException.invalidArgument(name + " " + e.getMessage()
          + (e.getMessage().startsWith("is out of range") ? "" : " (" + min + ".." + max + ")"));
    }
  }

  private static void string(String name, Object value, int max) {
    if (!(value instanceof String s)) {
      throw ControlPlaneException.invalidArgument(name + " must be a string, got " + kind(value));
    }
    if (s.length() > max) {
      throw ControlPlaneException.invalidArgument(name + " is longer than " + max + " characters");
    }
  }

  private static String kind(Object value) {
    return value instanceof JsonObject ? "an object" : value instanceof JsonArray ? "an array"
        : value instanceof Number ? "a number" : value instanceof Boolean ? "a boolean" : "null";
  }

  private static String printable(String text) {
    String cut = text.length() > 64 ? text.substring(0, 64) + "..." : text;
    return "'" + cut.replaceAll("[^\\x20-\\x7e]", "?") + "'";
  }

  static Set<String> addresses() {
    return FIELDS.keySet();
  }
}
