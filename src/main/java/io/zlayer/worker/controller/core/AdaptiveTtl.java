package io.zlayer.worker.controller.core;

import io.zlayer.worker.config.HeartbeatOptions;

/**
 * Nomad's heartbeat scaling: the cluster-wide heartbeat rate is capped by stretching every
 * worker's TTL as the fleet grows, {@code ttl = clamp(ceil(N / max_hb_per_sec), min, max)}.
 */
public record AdaptiveTtl(int minTtlSecs, int maxTtlSecs, int graceSecs, int maxHeartbeatsPerSecond,
                          int failoverTtlSecs) {

  public static final AdaptiveTtl DEFAULTS = new AdaptiveTtl(10, 600, 10, 50, 300);

  public static AdaptiveTtl of(HeartbeatOptions options) {
    return new AdaptiveTtl(secs(options.minTtl().toSeconds()), secs(options.maxTtl().toSeconds()),
        secs(options.grace().toSeconds()), options.maxHeartbeatsPerSecond(),
        secs(options.failoverTtl().toSeconds()));
  }

  /** The TTL to hand every worker when {@code nWorkers} are live. */
  public int compute(long nWorkers) {
    if (maxHeartbeatsPerSecond <= 0) {
      return maxTtlSecs;
    }
    long raw = (Math.max(0, nWorkers) + maxHeartbeatsPerSecond - 1) / maxHeartbeatsPerSecond;
    return (int) Math.max(minTtlSecs, Math.min(maxTtlSecs, raw));
  }

  private static int secs(long value) {
    return (int) Math.min(Integer.MAX_VALUE, value);
  }
}
