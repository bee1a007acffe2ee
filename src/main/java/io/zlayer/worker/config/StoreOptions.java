package io.zlayer.worker.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The controller's cluster-state store: {@code embedded} (default) or {@code etcd} with a
 * non-empty list of {@code http(s)://host:port} endpoints. YAML: {@code store: embedded} or
 * {@code store: {type: etcd, endpoints: [https://10.0.0.1:2379]}}.
 */
public record StoreOptions(String type, List<String> endpoints) {
  static final String EMBEDDED = "embedded";
  static final String ETCD = "etcd";
  static final StoreOptions DEFAULT = new StoreOptions(EMBEDDED, List.of());

  public StoreOptions {
    Objects.requireNonNull(type, "type");
    endpoints = List.copyOf(endpoints);
  }

  public boolean embedded() {
    return EMBEDDED.equals(type);
  }

  /** Parses the {@code store} value (string or mapping); null means the default. */
  static StoreOptions fromValue(Object v) {
    if (v == null) {
      return DEFAULT;
    }
    String type;
    List<String> endpoints = List.of();
    if (v instanceof String s) {
      type = s.trim();
    } else if (v instanceof JsonObject o) {
      for (String k : o.fieldNames()) {
        if (!Set.of("type", "endpoints").contains(k)) {
          throw new ConfigException("store." + k + ": unknown key (known keys: type, endpoints)");
        }
      }
      endpoints = endpoints(o.getValue("endpoints"));
      Object t = o.getValue("type");
      if (t == null) {
        type = endpoints.isEmpty() ? EMBEDDED : ETCD;
      } else if (t instanceof String s) {
        type = s.trim();
      } else {
        throw new ConfigException("store.type: expected embedded or etcd, got " + Values.describe(t));
      }
    } else {
      throw new ConfigException("store: expected embedded or a mapping {type: etcd, endpoints: [...]}, got "
          + Values.describe(v));
    }
    switch (type) {
      case EMBEDDED -> {
        if (!endpoints.isEmpty()) {
          throw new ConfigException("store.endpoints: only used with type etcd (type is embedded)");
        }
      }
      case ETCD -> {
        if (endpoints.isEmpty()) {
          throw new ConfigException("store.endpoints: type etcd needs at least one endpoint, "
              + "e.g. {type: etcd, endpoints: [https://127.0.0.1:2379]}");
        }
      }
      default -> throw new ConfigException("store: expected embedded or etcd, got \"" + type + "\"");
    }
    return new StoreOptions(type, endpoints);
  }

  private static List<String> endpoints(Object v) {
    if (v == null) {
      return List.of();
    }
    List<Object> items = new ArrayList<>();
    if (v instanceof JsonArray a) {
      a.forEach(items::add);
    } else if (v instanceof String s) {
      for (String part : s.split(",")) {
        if (!part.isBlank()) {
          items.add(part.trim());
        }
      }
    } else {
      throw new ConfigException("store.endpoints: expected a list of http(s)://host:port URLs, got "
          + Values.describe(v));
    }
    List<String> out = new ArrayList<>();
    for (Object item : items) {
      if (!(item instanceof String s)) {
        throw new ConfigException("store.endpoints: expected http(s)://host:port, got " + Values.describe(item));
      }
      String e = s.trim();
      String rest;
      if (e.startsWith("http://")) {
        rest = e.substring(7);
      } else if (e.startsWith("https://")) {
        rest = e.substring(8);
      } else {
        throw new ConfigException("store.endpoints: '" + e + "' is not an http(s)://host:port URL");
      }
      if (rest.endsWith("/")) {
        rest = rest.substring(0, rest.length() - 1);
        e = e.substring(0, e.length() - 1);
      }
      HostPort.parse("store.endpoints", rest);
      out.add(e);
    }
    return out;
  }

  Object toJson() {
    return new JsonObject().put("type", type).put("endpoints", new JsonArray(new ArrayList<>(endpoints)));
  }
}
