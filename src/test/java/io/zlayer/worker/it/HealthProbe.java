package io.zlayer.worker.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A well-behaved caller beside an abuse case: {@code GET /healthz} on the worker port over HTTPS,
 * HTTP/2 and HTTP/1.1 each on a connection of its own, one request per protocol in flight, every
 * {@value #PERIOD_MS} ms; counts answers, 5xx, failures (1 s timeout included) and the slowest.
 */
final class HealthProbe {
  static final long PERIOD_MS = 50;
  static final long TIMEOUT_MS = 1_000;

  /** Counts since the probe started; {@code slowestMs} since the previous {@link #figures()}. */
  record Figures(long answered, long fivexx, long failed, long slowestMs) {
    /** The counts since {@code before}. */
    Figures since(Figures before) {
      return new Figures(answered - before.answered, fivexx - before.fivexx, failed - before.failed, slowestMs);
    }
  }

  private final Vertx vertx;
  private final int port;
  private final HttpClient h2;
  private final HttpClient h1;
  private final AtomicLong answered = new AtomicLong();
  private final AtomicLong fivexx = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong slowest = new AtomicLong();
  /** The slowest since {@link #figures} was last called. */
  private final AtomicLong slowestWindow = new AtomicLong();
  private volatile boolean busy2;
  private volatile boolean busy1;
  private long timer;

  private HealthProbe(Vertx vertx, int port) {
    this.vertx = vertx;
    this.port = port;
    this.h2 = client(vertx, HttpVersion.HTTP_2);
    this.h1 = client(vertx, HttpVersion.HTTP_1_1);
  }

  private static HttpClient client(Vertx vertx, HttpVersion version) {
    return vertx.createHttpClient(new HttpClientOptions().setSsl(true).setTrustAll(true).setVerifyHost(false)
        .setUseAlpn(version == HttpVersion.HTTP_2).setProtocolVersion(version));
  }

  static HealthProbe start(Vertx vertx, int port) {
    HealthProbe probe = new HealthProbe(vertx, port);
    probe.timer = vertx.setPeriodic(PERIOD_MS, id -> {
      if (!probe.busy2) {
        probe.busy2 = true;
        probe.call(probe.h2).onComplete(ar -> probe.busy2 = false);
      }
      if (!probe.busy1) {
        probe.busy1 = true;
        probe.call(probe.h1).onComplete(ar -> probe.busy1 = false);
      }
    });
    return probe;
  }

  private Future<Long> call(HttpClient client) {
    long t0 = System.nanoTime();
    return client.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(port)
            .setURI("/healthz").setTimeout(TIMEOUT_MS))
        .compose(req -> req.send().compose(resp -> resp.body().map(b -> resp.statusCode())))
        .map(status -> {
          long ms = (System.nanoTime() - t0) / 1_000_000;
          answered.incrementAndGet();
          slowest.accumulateAndGet(ms, Math::max);
          slowestWindow.accumulateAndGet(ms, Math::max);
          if (status >= 500) {
            fivexx.incrementAndGet();
          } else if (status != 200) {
            failed.incrementAndGet();
          }
          return ms;
        })
        .onFailure(e -> failed.incrementAndGet());
  }

  /** One call on each protocol now, on new connections; completes with the slower one's ms (failed: Long.MAX_VALUE). */
  Future<Long> once() {
    HttpClient a = client(vertx, HttpVersion.HTTP_2);
    HttpClient b = client(vertx, HttpVersion.HTTP_1_1);
    return Future.join(call(a), call(b))
        .map(cf -> Math.max(cf.<Long>resultAt(0), cf.<Long>resultAt(1)))
        .otherwise(Long.MAX_VALUE)
        .eventually(() -> Future.join(a.close(), b.close()));
  }

  Figures figures() {
    return new Figures(answered.get(), fivexx.get(), failed.get(), slowestWindow.getAndSet(0));
  }

  /** The slowest answer since the probe started, in ms. */
  long slowestMs() {
    return slowest.get();
  }

  Future<Void> stop() {
    vertx.cancelTimer(timer);
    return Future.join(h2.close(), h1.close()).mapEmpty();
  }
}
