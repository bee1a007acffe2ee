package io.zlayer.worker.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads the controller / worker YAML config with vertx-config (file store, yaml format) and
 * applies {@code ZLAYER_<KEY>} environment overrides.
 */
public final class ConfigLoader {
  /** Every top-level key of the shared worker-tier schema (seed keys plus ours). */
  public static final Set<String> KNOWN_KEYS = Set.copyOf(new LinkedHashSet<>(Values.ALL_KEYS));

  private static final String ENV_PREFIX = "ZLAYER_";
  private static final Pattern LINE_COLUMN = Pattern.compile("line (\\d+), column (\\d+)");

  private ConfigLoader() {
  }

  /**
   * Reads a YAML file with vertx-config, then applies env overrides for {@link #KNOWN_KEYS}. A
   * missing file fails with {@code "<path>: file not found"}, a syntax error with
   * {@code "<path>: not valid YAML: <short reason>"}; both are {@link ConfigException}s.
   */
  public static Future<JsonObject> read(Vertx vertx, Path file, Map<String, String> env) {
    String abs = file.toAbsolutePath().normalize().toString();
    return vertx.fileSystem().exists(abs).compose(exists -> {
      if (!exists) {
        return Future.failedFuture(new ConfigException(file + ": file not found"));
      }
      return vertx.fileSystem().readFile(abs);
    }).compose(content -> {
      if (isEmptyDocument(content.toString(StandardCharsets.UTF_8))) {
        // only comments: the yaml processor yields null, which vertx-config cannot merge
        return Future.succeededFuture(new JsonObject());
      }
      ConfigStoreOptions store = new ConfigStoreOptions()
          .setType("file")
          .setFormat("yaml")
          .setConfig(new JsonObject().put("path", abs));
      ConfigRetriever retriever = ConfigRetriever.create(vertx,
          new ConfigRetrieverOptions().setIncludeDefaultStores(false).setScanPeriod(0).addStore(store));
      return retriever.getConfig()
          .eventually(retriever::close)
          .recover(err -> Future.failedFuture(
              new ConfigException(file + ": not valid YAML: " + yamlReason(err))));
    }).map(json -> applyEnv(json, env, KNOWN_KEYS)).map(json -> {
      LogFormat.of(json).apply();
      return json;
    });
  }

  private static boolean isEmptyDocument(String text) {
    return text.lines().map(String::trim)
        .allMatch(l -> l.isEmpty() || l.startsWith("#") || l.equals("---") || l.equals("..."));
  }

  /** A one-line reason from a (snakeyaml) decode failure. */
  private static String yamlReason(Throwable err) {
    Throwable root = err;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (root instanceof ClassCastException) {
      return "the top level must be a mapping of key: value";
    }
    String msg = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    // snakeyaml: "context\n in 'x', line..\n snippet\n ^\nproblem\n in 'x', line..": the problem is the
    // last unindented line; marks and snippets are indented.
    String first = msg.lines().filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0)))
        .reduce((a, b) -> b).orElse(msg).trim();
    Matcher m = LINE_COLUMN.matcher(msg);
    String where = null;
    while (m.find()) {
      where = "line " + m.group(1) + ", column " + m.group(2); // the last mark is the problem mark
    }
    if (where != null && !first.contains(where)) {
      first = first + " (" + where + ")";
    }
    return first;
  }

  /**
   * Env overrides: for each known key K, {@code ZLAYER_<K upper-case>} replaces it. List keys
   * (servers, peers, tls_names) take comma-separated values, labels take {@code k=v,k2=v2}, numeric
   * keys are parsed (a bad number fails naming the variable), {@code ZLAYER_STORE} sets the store
   * type and {@code ZLAYER_STORE_ENDPOINTS} its comma-separated endpoints (implying etcd unless
   * ZLAYER_STORE says otherwise). Other ZLAYER_* variables are ignored. Returns a new object.
   */
  public static JsonObject applyEnv(JsonObject config, Map<String, String> env, Set<String> knownKeys) {
    JsonObject out = config == null ? new JsonObject() : config.copy();
    if (env == null || env.isEmpty()) {
      return out;
    }
    for (String key : knownKeys) {
      String var = ENV_PREFIX + key.toUpperCase(Locale.ROOT);
      String value = env.get(var);
      if (value == null) {
        continue;
      }
      if (Values.LIST_KEYS.contains(key)) {
        out.put(key, new JsonArray(splitList(value)));
      } else if (key.equals("labels")) {
        out.put(key, parseLabels(var, value));
      } else if (Values.INTEGER_KEYS.contains(key)) {
        try {
          out.put(key, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
          throw new ConfigException(var + ": expected an integer for " + key + ", got \"" + value + "\"");
        }
      } else if (key.equals("store")) {
        Object current = out.getValue("store");
        JsonObject store = current instanceof JsonObject o ? o.copy() : new JsonObject();
        store.put("type", value.trim());
        out.put("store", store);
      } else {
        out.put(key, value.trim());
      }
    }
    if (knownKeys.contains("store")) {
      String endpoints = env.get(ENV_PREFIX + "STORE_ENDPOINTS");
      if (endpoints != null) {
        Object current = out.getValue("store");
        JsonObject store = current instanceof JsonObject o ? o.copy()
            : current instanceof String s ? new JsonObject().put("type", s) : new JsonObject();
        if (!env.containsKey(ENV_PREFIX + "STORE")) {
          store.put("type", StoreOptions.ETCD);
        }
        store.put("endpoints", new JsonArray(splitList(endpoints)));
        out.put("store", store);
      }
    }
    return out;
  }

  private static List<Object> splitList(String value) {
    List<Object> items = new ArrayList<>();
    for (String part : value.split(",")) {
      if (!part.isBlank()) {
        items.add(part.trim());
      }
    }
    return items;
  }

  private static JsonObject parseLabels(String var, String value) {
    JsonObject labels = new JsonObject();
    for (String part : value.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int eq = part.indexOf('=');
      if (eq <= 0 || part.substring(0, eq).isBlank()) {
        throw new ConfigException(var + ": expected k=v pairs separated by commas, got \"" + value + "\"");
      }
      labels.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
    }
    return labels;
  }

  /** {@link #read} with {@link System#getenv()}, then {@link ControllerOptions#fromJson}. */
  public static Future<ControllerOptions> loadController(Vertx vertx, Path file) {
    return read(vertx, file, System.getenv()).map(ControllerOptions::fromJson);
  }

  /** {@link #read} with {@link System#getenv()}, then {@link WorkerOptions#fromJson}. */
  public static Future<WorkerOptions> loadWorker(Vertx vertx, Path file) {
    return read(vertx, file, System.getenv()).map(WorkerOptions::fromJson);
  }
}
