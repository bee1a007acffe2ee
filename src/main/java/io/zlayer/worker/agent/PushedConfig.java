package io.zlayer.worker.agent;

import io.zlayer.worker.config.ConfigException;
import io.zlayer.worker.config.Durations;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A config pushed by the controller (PushConfig): the worker settings that may change live,
 * validated as a whole before any is applied. Accepted keys: {@code labels} (replaces all
 * labels) and {@code heartbeat_min_ttl}/{@code heartbeat_max_ttl} (bounds on the TTL the
 * worker honours).
 *
 * <p>What was pushed survives a restart of the agent: the pushed keys are merged into
 * {@code <data_dir>/pushed-config.json} (mode 0600) and applied again on start, over the config
 * file's values. The node's leave forgets them with the identity.
 */
final class PushedConfig {
  static final Set<String> KEYS = Set.of("labels", "heartbeat_min_ttl", "heartbeat_max_ttl");
  static final String FILE = "pushed-config.json";

  private PushedConfig() {
  }

  /** Applies the YAML or throws IllegalArgumentException naming the problem; returns a summary. */
  static String apply(AgentContext ctx, String yaml) {
    Object parsed;
    try {
      parsed = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not valid YAML");
    }
    if (!(parsed instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException("the top level must be a mapping of key: value");
    }
    for (Object key : map.keySet()) {
      if (!KEYS.contains(String.valueOf(key))) {
        throw new IllegalArgumentException(key + ": cannot be changed by a pushed config (allowed: "
            + String.join(", ", KEYS.stream().sorted().toList()) + ")");
      }
    }
    Map<String, String> labels = null;
    if (map.containsKey("labels")) {
      if (!(map.get("labels") instanceof Map<?, ?> raw)) {
        throw new IllegalArgumentException("labels: expected a mapping of strings");
      }
      labels = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : raw.entrySet()) {
        if (e.getValue() == null || e.getValue() instanceof Map || e.getValue() instanceof Iterable) {
          throw new IllegalArgumentException("labels." + e.getKey() + ": expected a string");
        }
        labels.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
      }
    }
    Duration min = duration(map, "heartbeat_min_ttl", ctx.ttlBounds().min());
    Duration max = duration(map, "heartbeat_max_ttl", ctx.ttlBounds().max());
    if (min.toSeconds() < 1 || max.compareTo(min) < 0) {
      throw new IllegalArgumentException("heartbeat_max_ttl must be >= heartbeat_min_ttl >= 1s");
    }
    if (labels != null) {
      ctx.labels().clear();
      ctx.labels().putAll(labels);
    }
    ctx.ttlBounds(new io.zlayer.worker.agent.session.TtlBounds(min, max));
    return "labels=" + ctx.labels() + ", ttl bounds " + Durations.format(min) + ".." + Durations.format(max);
  }

  /**
   * Blocking: merges the keys of an applied {@code yaml} into {@code <data_dir>/pushed-config.json}.
   * Runs after {@link #apply} accepted it, so it parses.
   */
  static void remember(Path dataDir, String yaml) throws IOException {
    Path file = dataDir.resolve(FILE);
    JsonObject merged = Files.exists(file) ? new JsonObject(SecureFiles.readPrivate(file)) : new JsonObject();
    Map<?, ?> pushed = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
    pushed.forEach((k, v) -> merged.put(String.valueOf(k), v instanceof Map<?, ?> m ? labelsJson(m) : String.valueOf(v)));
    SecureFiles.writePrivate(file, merged.encodePrettily());
  }

  /** Blocking: applies what earlier pushes left in {@code <data_dir>/pushed-config.json}, if anything; returns the summary. */
  static java.util.Optional<String> restore(AgentContext ctx) throws IOException {
    Path file = ctx.options().dataDir().resolve(FILE);
    if (!Files.exists(file)) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(apply(ctx, SecureFiles.readPrivate(file))); // JSON is YAML
  }

  /** Blocking: forgets every pushed value (the node left). */
  static void forget(Path dataDir) throws IOException {
    Files.deleteIfExists(dataDir.resolve(FILE));
  }

  private static JsonObject labelsJson(Map<?, ?> labels) {
    JsonObject json = new JsonObject();
    labels.forEach((k, v) -> json.put(String.valueOf(k), String.valueOf(v)));
    return json;
  }

  private static Duration duration(Map<?, ?> map, String key, Duration current) {
    if (!map.containsKey(key)) {
      return current;
    }
    try {
      return Durations.parse(key, map.get(key));
    } catch (ConfigException e) {
      throw new IllegalArgumentException(e.getMessage());
    }
  }
}
