package io.zlayer.worker.controller.core;

/**
 * A worker's liveness lease: renewed by each heartbeat, expired when
 * {@code now - renewed > ttl + grace} (seed 001's {@code WorkerLease::is_expired}).
 */
public record Lease(long nodeId, long renewedAtMillis, int ttlSecs, int graceSecs) {

  public boolean isExpired(long nowMillis) {
    long elapsed = Math.max(0, nowMillis - renewedAtMillis);
    return elapsed > (ttlSecs + (long) graceSecs) * 1000L;
  }

  public long expiresAtMillis() {
    return renewedAtMillis + (ttlSecs + (long) graceSecs) * 1000L;
  }

  public Lease renewed(long nowMillis, int ttl) {
    return new Lease(nodeId, nowMillis, ttl, graceSecs);
  }
}
