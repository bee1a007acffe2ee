package io.zlayer.worker.agent.session;

import java.time.Duration;

/**
 * Heartbeat TTL bounds on the worker. Only the maximum applies to a controller's TTL: reporting
 * more often than asked is safe, less often would let the lease expire. The minimum is the TTL
 * assumed before the first ack.
 */
public record TtlBounds(Duration min, Duration max) {
  public int clamp(int ttlSecs) {
    return (int) Math.max(1, Math.min(max.toSeconds(), ttlSecs));
  }

  /** Interval between reports for a TTL: {@code ttl - clamp(ttl/4, 1, 5)} s, at least half the TTL. */
  public static long intervalMillis(int ttlSecs) {
    long ttl = ttlSecs * 1000L;
    long margin = Math.max(1000, Math.min(5000, ttl / 4));
    return Math.max(ttl / 2, ttl - margin);
  }
}
