package io.zlayer.worker.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * How long the worker endpoint lets a peer hold a connection or a request without using it, and
 * how many streams one HTTP/2 connection may open and how many legacy polls it holds, so that a few
 * thousand idle or slow sockets cannot exhaust descriptors or memory.
 *
 * @param idleTimeout          a connection with no open request or stream is closed after this
 *                             (a worker's watch streams keep its connection, however quiet)
 * @param tlsHandshakeTimeout  a TLS handshake must complete within this
 * @param requestTimeout       a request (HTTP, or a unary gRPC call) must have been sent whole within
 *                             this (trickled bodies, stalled messages); held polls are answered later
 * @param maxConcurrentStreams streams one HTTP/2 connection may have open at once
 * @param maxHeldPolls         legacy long-polls held at once over all nodes (one per node); one more is
 *                             answered 503 with {@code Retry-After}
 * @param maxConnections       connections held at once; one more is closed as soon as it is accepted,
 *                             so its worker tries another controller instead of this process running
 *                             out of descriptors (accepts then fail and connections hang in the
 *                             backlog). Default: the descriptor limit less {@link #DESCRIPTOR_RESERVE}
 */
public record ConnectionLimits(Duration idleTimeout, Duration tlsHandshakeTimeout, Duration requestTimeout,
    long maxConcurrentStreams, int maxHeldPolls, int maxConnections) {
  /** Longer than any pause between a legacy worker's polls or a CLI's calls. */
  static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
  /** A handshake on this box takes a few ms; 10 s is Vert.x's default and ample on a slow link. */
  static final Duration DEFAULT_TLS_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
  /** A legacy request body is at most 64 KiB. */
  static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
  /** A gRPC worker uses 3; a legacy client multiplexing its polls a few hundred. */
  static final long DEFAULT_MAX_CONCURRENT_STREAMS = 1_000;
  /**
   * One per legacy node: a controller holds just under 20,000 connections (the descriptor limit), so
   * 20,000 never refuses a node that could connect, and bounds what a flood of polls can hold.
   */
  static final int DEFAULT_MAX_HELD_POLLS = 20_000;
  static final Duration MIN_TIMEOUT = Duration.ofMillis(100);
  /** Descriptors kept for everything but workers' connections: jars, epoll, the store, etcd, the bridge. */
  static final int DESCRIPTOR_RESERVE = 500;
  static final int DEFAULT_MAX_CONNECTIONS = defaultMaxConnections();

  public static final ConnectionLimits DEFAULTS = new ConnectionLimits(DEFAULT_IDLE_TIMEOUT,
      DEFAULT_TLS_HANDSHAKE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_HELD_POLLS,
      DEFAULT_MAX_CONNECTIONS);

  /** This process's descriptor limit less the reserve (at least 100); 1,000,000 when the JVM cannot tell. */
  private static int defaultMaxConnections() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      long max = unix.getMaxFileDescriptorCount();
      return (int) Math.max(100, Math.min(1_000_000, max - DESCRIPTOR_RESERVE));
    }
    return 1_000_000;
  }

  static ConnectionLimits fromJson(JsonObject json) {
    return new ConnectionLimits(
        timeout(json, "connection_idle_timeout", DEFAULT_IDLE_TIMEOUT),
        timeout(json, "tls_handshake_timeout", DEFAULT_TLS_HANDSHAKE_TIMEOUT),
        timeout(json, "http_request_timeout", DEFAULT_REQUEST_TIMEOUT),
        Values.integer(json, "http2_max_concurrent_streams", 4, 100_000, DEFAULT_MAX_CONCURRENT_STREAMS,
            "an integer from 4 to 100000"),
        (int) Values.integer(json, "max_held_polls", 1, 1_000_000, DEFAULT_MAX_HELD_POLLS,
            "an integer from 1 to 1000000"),
        (int) Values.integer(json, "max_connections", 1, 1_000_000, DEFAULT_MAX_CONNECTIONS,
            "an integer from 1 to 1000000"));
  }

  private static Duration timeout(JsonObject json, String key, Duration dflt) {
    Duration d = Values.duration(json, key, dflt);
    if (d.compareTo(MIN_TIMEOUT) < 0 || d.compareTo(Duration.ofDays(1)) > 0) {
      throw new ConfigException(key + ": must be from 100ms to 1d, got " + Durations.format(d));
    }
    return d;
  }

  void toJson(JsonObject json) {
    json.put("connection_idle_timeout", Durations.format(idleTimeout))
        .put("tls_handshake_timeout", Durations.format(tlsHandshakeTimeout))
        .put("http_request_timeout", Durations.format(requestTimeout))
        .put("http2_max_concurrent_streams", maxConcurrentStreams)
        .put("max_held_polls", maxHeldPolls)
        .put("max_connections", maxConnections);
  }
}
