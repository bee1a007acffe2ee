package io.zlayer.worker.agent.session;

import io.zlayer.worker.config.HostPort;
import java.time.Duration;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * How a session behaves. {@code forcedIntervalMs} (> 0) replaces the adaptive report interval
 * (the simulator's ingest phase); {@code renewCertificates} schedules rotation at two thirds of
 * the certificate's lifetime.
 */
public record SessionSettings(List<HostPort> servers, int firstServer, Supplier<TtlBounds> ttlBounds,
                              LongSupplier forcedIntervalMs, Throttle connectThrottle, boolean renewCertificates,
                              Duration stableAfter, Duration connectTimeout, Duration snapshotTimeout,
                              Duration reportDebounce, boolean logEvents) {
  /** A session up this long resets the backoff. */
  public static final Duration STABLE_AFTER = Duration.ofSeconds(10);
  /** A connection whose streams are not up by then is abandoned. */
  public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
  /** A busy executor must not delay the heartbeat: the last snapshot is sent again. */
  public static final Duration SNAPSHOT_TIMEOUT = Duration.ofSeconds(2);
  /** Replica changes within this window go out in one report. */
  public static final Duration REPORT_DEBOUNCE = Duration.ofMillis(100);

  public static SessionSettings of(List<HostPort> servers, Supplier<TtlBounds> ttlBounds) {
    if (servers.isEmpty()) {
      throw new IllegalArgumentException("a session needs at least one server");
    }
    return new SessionSettings(servers, 0, ttlBounds, () -> 0, Throttle.NONE, true, STABLE_AFTER,
        CONNECT_TIMEOUT, SNAPSHOT_TIMEOUT, REPORT_DEBOUNCE, true);
  }

  public SessionSettings withFirstServer(int index) {
    return new SessionSettings(servers, index, ttlBounds, forcedIntervalMs, connectThrottle, renewCertificates,
        stableAfter, connectTimeout, snapshotTimeout, reportDebounce, logEvents);
  }

  /** The simulator's: a forced interval when set, a connect window, no renewal, no log line per session event. */
  public SessionSettings withSimulation(LongSupplier forcedInterval, Throttle throttle) {
    return new SessionSettings(servers, firstServer, ttlBounds, forcedInterval, throttle, false, stableAfter,
        connectTimeout, snapshotTimeout, reportDebounce, false);
  }

  /** Shorter timings, for tests. */
  public SessionSettings withTimings(Duration stable, Duration connect, Duration snapshot) {
    return new SessionSettings(servers, firstServer, ttlBounds, forcedIntervalMs, connectThrottle, renewCertificates,
        stable, connect, snapshot, reportDebounce, logEvents);
  }
}
