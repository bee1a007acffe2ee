package io.zlayer.worker.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The controller's cluster-state store: {@code embedded} (default) or {@code etcd} with a
 * non-empty list of {@code http(s)://host:port} endpoints, the key prefix the cluster's state
 * lives under (default {@value #DEFAULT_PREFIX}) and, for {@code https} endpoints, the client TLS
 * files. YAML: {@code store: embedded} or {@code store: {type: etcd, endpoints:
 * [https://10.0.0.1:2379], prefix: /zlayer/, tls: {ca_file: ..., cert_file: ..., key_file: ...}}}.
 */
public record StoreOptions(String type, List<String> endpoints, String prefix, Tls tls) {
  static final String EMBEDDED = "embedded";
  static final String ETCD = "etcd";
  public static final String DEFAULT_PREFIX = "/zlayer/";
  static final StoreOptions DEFAULT = new StoreOptions(EMBEDDED, List.of());
  private static final Set<String> KEYS = Set.of("type", "endpoints", "prefix", "tls");
  private static final Set<String> TLS_KEYS = Set.of("ca_file", "cert_file", "key_file");

  /**
   * Client TLS for {@code https} etcd endpoints: the CA that signed etcd's certificate, and this
   * controller's client certificate and key when etcd asks for one (both or neither). Without it,
   * {@code https} endpoints are checked against the JDK's default CAs and no client certificate is sent.
   */
  public record Tls(Path caFile, Path certFile, Path keyFile) {
    Object toJson() {
      JsonObject o = new JsonObject().put("ca_file", caFile.toString());
      if (certFile != null) {
        o.put("cert_file", certFile.toString()).put("key_file", keyFile.toString());
      }
      return o;
    }
  }

  public StoreOptions {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(prefix, "prefix");
    endpoints = List.copyOf(endpoints);
  }

  public StoreOptions(String type, List<String> endpoints) {
    this(type, endpoints, DEFAULT_PREFIX, null);
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
    String prefix = null;
    Tls tls = null;
    if (v instanceof String s) {
      type = s.trim();
    } else if (v instanceof JsonObject o) {
      for (String k : o.fieldNames()) {
        if (!KEYS.contains(k)) {
          throw new ConfigException("store." + k + ": unknown key (known keys: type, endpoints, prefix, tls)");
        }
      }
      endpoints = endpoints(o.getValue("endpoints"));
      prefix = prefix(o.getValue("prefix"));
      tls = tls(o.getValue("tls"));
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
        if (prefix != null || tls != null) {
          throw new ConfigException("store." + (prefix != null ? "prefix" : "tls")
              + ": only used with type etcd (type is embedded)");
        }
      }
      case ETCD -> {
        if (endpoints.isEmpty()) {
          throw new ConfigException("store.endpoints: type etcd needs at least one endpoint, "
              + "e.g. {type: etcd, endpoints: [https://127.0.0.1:2379]}");
        }
        long https = endpoints.stream().filter(e -> e.startsWith("https://")).count();
        if (https > 0 && https < endpoints.size()) {
          throw new ConfigException("store.endpoints: mixes http:// and https:// endpoints; use one scheme");
        }
        if (https == 0 && tls != null) {
          throw new ConfigException("store.tls: only used with https:// endpoints");
        }
      }
      default -> throw new ConfigException("store: expected embedded or etcd, got \"" + type + "\"");
    }
    return new StoreOptions(type, endpoints, prefix == null ? DEFAULT_PREFIX : prefix, tls);
  }

  private static String prefix(Object v) {
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s) || s.isBlank() || !s.startsWith("/") || !s.endsWith("/")) {
      throw new ConfigException("store.prefix: expected a key prefix that starts and ends with /, e.g. "
          + DEFAULT_PREFIX + ", got " + Values.describe(v));
    }
    return s;
  }

  private static Tls tls(Object v) {
    if (v == null) {
      return null;
    }
    if (!(v instanceof JsonObject o)) {
      throw new ConfigException("store.tls: expected a mapping {ca_file, cert_file, key_file}, got " + Values.describe(v));
    }
    for (String k : o.fieldNames()) {
      if (!TLS_KEYS.contains(k)) {
        throw new ConfigException("store.tls." + k + ": unknown key (known keys: ca_file, cert_file, key_file)");
      }
    }
    Path ca = file(o, "ca_file");
    Path cert = file(o, "cert_file");
    Path key = file(o, "key_file");
    if (ca == null) {
      throw new ConfigException("store.tls.ca_file: required (the CA that signed etcd's certificate)");
    }
    if ((cert == null) != (key == null)) {
      throw new ConfigException("store.tls." + (cert == null ? "cert_file" : "key_file")
          + ": cert_file and key_file go together (etcd's client certificate and its key)");
    }
    return new Tls(ca, cert, key);
  }

  private static Path file(JsonObject o, String key) {
    Object v = o.getValue(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s) || s.isBlank()) {
      throw new ConfigException("store.tls." + key + ": expected a file path, got " + Values.describe(v));
    }
    Path p = Path.of(s.trim());
    if (!Files.isReadable(p) || Files.isDirectory(p)) {
      throw new ConfigException("store.tls." + key + ": " + p + " is not a readable file");
    }
    return p;
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
    JsonObject o = new JsonObject().put("type", type).put("endpoints", new JsonArray(new ArrayList<>(endpoints)));
    if (!embedded()) {
      o.put("prefix", prefix);
      if (tls != null) {
        o.put("tls", tls.toJson());
      }
    }
    return o;
  }
}
