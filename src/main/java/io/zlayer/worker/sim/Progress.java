package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.config.HostPort;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * The run's clock and voice: waits on the fleet's counters while printing a progress line every
 * {@code interval} (the {@code [   t s] phase=...} lines bench/run shows), and the controller's
 * JSON counters ({@code GET /v1/metrics} on its operator listener: heartbeats, unreachable nodes),
 * polled once a second.
 */
final class Progress {
  /** The controller's operator listener and the admin token its {@code /v1} asks for. */
  record MetricsEndpoint(HostPort addr, String adminToken) {
    boolean tls() {
      return !addr.loopback();
    }
  }

  private static final long METRICS_PERIOD_MS = 1000;
  private static final long POLL_MS = 20;

  private final Fleet fleet;
  private final int workers;
  private final int assignments;
  private final Duration interval;
  final PrintStream out;
  private final MetricsEndpoint metricsServer;
  private HttpClientAgent metricsClient;
  private final AtomicReference<JsonObject> lastMetrics = new AtomicReference<>(new JsonObject());
  final AtomicLong maxUnreachable = new AtomicLong();
  volatile String phase = "prepare";
  private long startNanos;
  private long lastNanos;
  private long lastRegistered;
  private long lastConnected;
  private long lastAcks;

  Progress(Fleet fleet, int workers, int assignments, Duration interval, PrintStream out, MetricsEndpoint metricsServer) {
    this.fleet = fleet;
    this.workers = workers;
    this.assignments = assignments;
    this.interval = interval;
    this.out = out;
    this.metricsServer = metricsServer;
  }

  void connectMetrics(Vertx vertx, String caPem) {
    HttpClientOptions options = new HttpClientOptions();
    if (metricsServer != null && metricsServer.tls()) {
      options.setSsl(true).setVerifyHost(false).setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem)));
    }
    metricsClient = vertx.createHttpClient(options);
  }

  /** Starts the clock the progress lines count from. */
  long start() {
    startNanos = System.nanoTime();
    lastNanos = startNanos;
    return startNanos;
  }

  long pollMetricsPeriodically(Vertx vertx) {
    return vertx.setPeriodic(METRICS_PERIOD_MS, id -> metrics().onSuccess(m -> {
      lastMetrics.set(m);
      maxUnreachable.accumulateAndGet(m.getJsonObject("nodes", new JsonObject()).getLong("unreachable", 0L), Math::max);
    }));
  }

  Future<JsonObject> metrics() {
    if (metricsServer == null) {
      return Future.failedFuture("no operator listener given (--operator-http)");
    }
    return metricsClient.request(HttpMethod.GET, metricsServer.addr().port(), metricsServer.addr().host(), "/v1/metrics")
        .compose(req -> req.putHeader("authorization", "Bearer " + metricsServer.adminToken()).send()
            .compose(resp -> resp.body()))
        .map(Buffer::toJsonObject);
  }

  /** The controller's heartbeat counter now (the last polled one when /metrics does not answer). */
  long heartbeats() {
    try {
      return Simulator.await(metrics(), Duration.ofSeconds(15)).getLong("heartbeats", 0L);
    } catch (Exception e) {
      out.println("sim: /v1/metrics: " + Simulator.describe(e));
      return lastMetrics.get().getLong("heartbeats", 0L);
    }
  }

  boolean waitFor(BooleanSupplier done, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      maybe();
      Thread.sleep(POLL_MS); // bounded poll of in-process counters
    }
    return true;
  }

  void sleep(Duration d) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < end) {
      maybe();
      Thread.sleep(Math.max(1, Math.min(100, (end - System.nanoTime()) / 1_000_000)));
    }
  }

  void maybe() {
    if (System.nanoTime() - lastNanos >= interval.toNanos()) {
      print();
    }
  }

  void print() {
    long now = System.nanoTime();
    double dt = Math.max(1e-3, (now - lastNanos) / 1e9);
    long reg = fleet.registered.get();
    long con = fleet.connected.get();
    long acks = fleet.acks.sum();
    JsonObject m = lastMetrics.get();
    out.printf("[%6.1fs] phase=%s registered=%d/%d connected=%d/%d errors=%d reg/s=%.0f conn/s=%.0f "
            + "acks/s=%.0f legacy_polls=%d assigned=%d/%d ctl_leases=%s ctl_unreachable=%s%n",
        startNanos == 0 ? 0 : (now - startNanos) / 1e9, phase, reg, workers, con, workers, fleet.errors(),
        (reg - lastRegistered) / dt, (con - lastConnected) / dt, (acks - lastAcks) / dt,
        fleet.legacyConnected.get(), fleet.grpcLatency.count() + fleet.legacyLatency.count(),
        assignments, m.getValue("leases_live", "?"),
        m.getJsonObject("nodes", new JsonObject()).getValue("unreachable", 0));
    out.flush();
    lastNanos = now;
    lastRegistered = reg;
    lastConnected = con;
    lastAcks = acks;
  }
}
