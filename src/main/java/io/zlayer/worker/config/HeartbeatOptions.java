package io.zlayer.worker.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Objects;

/**
 * Heartbeat tunables shared by controller and worker (the seed's AdaptiveTtlConfig): the TTL a
 * controller hands out adapts between {@code minTtl} and {@code maxTtl} so the cluster-wide
 * heartbeat rate stays under {@code maxHeartbeatsPerSecond}; a worker is considered gone after
 * TTL + {@code grace}; {@code failoverTtl} is the TTL used right after a controller failover.
 * YAML keys: heartbeat_min_ttl, heartbeat_max_ttl, heartbeat_grace, max_heartbeats_per_second,
 * failover_heartbeat_ttl.
 */
public record HeartbeatOptions(Duration minTtl, Duration maxTtl, Duration grace, int maxHeartbeatsPerSecond,
    Duration failoverTtl) {

  public static final HeartbeatOptions DEFAULTS = new HeartbeatOptions(
      Duration.ofSeconds(10), Duration.ofSeconds(600), Duration.ofSeconds(10), 50, Duration.ofSeconds(300));

  public HeartbeatOptions {
    Objects.requireNonNull(minTtl, "minTtl");
    Objects.requireNonNull(maxTtl, "maxTtl");
    Objects.requireNonNull(grace, "grace");
    Objects.requireNonNull(failoverTtl, "failoverTtl");
  }

  /** Reads and validates the heartbeat keys of a top-level config object. */
  static HeartbeatOptions fromJson(JsonObject json) {
    Duration min = Values.duration(json, "heartbeat_min_ttl", DEFAULTS.minTtl);
    if (min.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new ConfigException("heartbeat_min_ttl: must be at least 1s, got " + Durations.format(min));
    }
    Duration max = Values.duration(json, "heartbeat_max_ttl", DEFAULTS.maxTtl);
    if (max.compareTo(min) < 0) {
      throw new ConfigException("heartbeat_max_ttl: " + Durations.format(max)
          + " is less than heartbeat_min_ttl (" + Durations.format(min) + ")");
    }
    Duration grace = Values.duration(json, "heartbeat_grace", DEFAULTS.grace);
    int rate = (int) Values.integer(json, "max_heartbeats_per_second", 1, Integer.MAX_VALUE,
        DEFAULTS.maxHeartbeatsPerSecond, "a positive integer");
    Duration failover = Values.duration(json, "failover_heartbeat_ttl", DEFAULTS.failoverTtl);
    return new HeartbeatOptions(min, max, grace, rate, failover);
  }

  /** Writes the heartbeat keys into {@code json}. */
  void toJson(JsonObject json) {
    json.put("heartbeat_min_ttl", Durations.format(minTtl))
        .put("heartbeat_max_ttl", Durations.format(maxTtl))
        .put("heartbeat_grace", Durations.format(grace))
        .put("max_heartbeats_per_second", maxHeartbeatsPerSecond)
        .put("failover_heartbeat_ttl", Durations.format(failoverTtl));
  }
}
