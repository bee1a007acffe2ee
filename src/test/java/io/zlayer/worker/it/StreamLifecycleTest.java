package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.grpc.OpenStreams;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14 item 12: a stream's resources are released when the stream ends, not when its
 * connection closes. A worker opens and cancels {@code WatchAssignments} over and over on one
 * connection; the controller's tracked streams and heap stay flat.
 */
@ExtendWith(VertxExtension.class)
class StreamLifecycleTest {
  /** Cycles in CI; {@code bench/abuse --full} runs 100,000. */
  private static final int CYCLES = Integer.getInteger("zlayer.abuse.streamCycles", 10_000);
  private static final int IN_FLIGHT = 64;
  private static final long HEADERS_WAIT_SECS = 20;
  @TempDir
  Path dir;
  private ControllerNode controller;
  private HttpClient http;
  private LoopLag lag;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    // The rapid-reset guard (200 resets per 30 s, then GOAWAY) would end the loop first.
    System.setProperty("zlayer.http2RstFloodLimit", "1000000000");
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  @AfterEach
  void stop() throws Exception {
    if (http != null) {
      await(http.close());
    }
    await(controller.stop());
    System.clearProperty("zlayer.http2RstFloodLimit");
  }

  /** One HTTP/2 connection over mTLS as the worker {@code identity}. */
  static HttpClient mtls(Vertx vertx, ControllerNode controller, Identity identity) {
    return mtls(vertx, controller, identity, new HttpClientOptions());
  }

  static HttpClient mtls(Vertx vertx, ControllerNode controller, Identity identity, HttpClientOptions base) {
    return vertx.createHttpClient(base.setSsl(true).setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2).setVerifyHost(false).setHttp2MultiplexingLimit(1_000)
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(controller.controlPlane().ca().certificatePem())))
        .setKeyCertOptions(new PemKeyCertOptions().setKeyValue(Buffer.buffer(identity.keyPem()))
            .setCertValue(Buffer.buffer(identity.certPem()))),
        new PoolOptions().setHttp2MaxSize(1));
  }

  static RequestOptions watch(ControllerNode controller) {
    return new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(controller.port())
        .setURI(GrpcWire.WATCH_ASSIGNMENTS).putHeader("content-type", "application/grpc").putHeader("te", "trailers");
  }

  @Test
  void openAndCancelOnOneConnectionLeavesNothingBehind(Vertx vertx) throws Exception {
    Identity identity = RawWorker.register(vertx, controller);
    http = mtls(vertx, controller, identity);
    Buffer request = GrpcWire.frame(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId()).build().toByteArray());
    OpenStreams streams = controller.controlPlane().streams();
    await(cycles(vertx, request, 200)); // warm up: TLS, the connection, class loading
    await(settled(vertx, () -> streams.trackedStreams() == 0));
    lag = LoopLag.start(vertx);
    long heapBefore = lag.excluding(StreamLifecycleTest::usedHeap);
    long t0 = System.nanoTime();
    dumpThreadsOnTimeout(() -> await(cycles(vertx, request, CYCLES), Duration.ofSeconds(120)));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    boolean released = dumpThreadsOnTimeout(() -> await(settled(vertx, () -> streams.trackedStreams() == 0)));
    long heapGrownKb = (lag.excluding(StreamLifecycleTest::usedHeap) - heapBefore) >> 10;
    lag.close();
    System.out.printf("abuse stream-cycles: %,d WatchAssignments opened and cancelled on %d connection in %,d ms;"
        + " tracked streams after: %d, heap %+,d KiB, %s%n", CYCLES, streams.connections(), ms, streams.trackedStreams(),
        heapGrownKb, lag.figure());
    assertTrue(lag.withinBound(), lag.figure());
    assertEquals(1, streams.connections(), "one connection");
    assertTrue(released, "streams still tracked: " + streams.trackedStreams());
    assertTrue(heapGrownKb < 8 * 1024, "heap grew " + heapGrownKb + " KiB");
  }

  /**
   * The rare flake (issue 14): once the cycles hung (headers never came), once the 5 s-bounded
   * {@link #settled} after them did not complete in 30 s, as if an event loop were stuck. On a
   * timeout, every Vert.x thread's stack goes to the output, so the next one shows where.
   */
  private static <T> T dumpThreadsOnTimeout(java.util.concurrent.Callable<T> wait) throws Exception {
    try {
      return wait.call();
    } catch (java.util.concurrent.TimeoutException e) {
      Thread.getAllStackTraces().forEach((thread, stack) -> {
        if (thread.getName().startsWith("vert.x")) {
          System.out.println("thread " + thread.getName() + " " + thread.getState());
          for (StackTraceElement frame : stack) {
            System.out.println("    at " + frame);
          }
        }
      });
      throw e;
    }
  }

  /** Runs {@code n} open-and-cancel cycles, {@link #IN_FLIGHT} at a time, on the client's one connection. */
  private Future<Void> cycles(Vertx vertx, Buffer request, int n) {
    Promise<Void> done = Promise.promise();
    AtomicInteger started = new AtomicInteger();
    AtomicInteger finished = new AtomicInteger();
    Runnable[] next = new Runnable[1];
    next[0] = () -> {
      if (started.getAndIncrement() >= n) {
        return;
      }
      http.request(watch(controller))
          .compose(req -> {
            req.setChunked(true).write(request);
            req.end();
            // Headers arrive once the watch is open; then the client cancels it. A cycle whose headers
            // do not come says where it stuck (a rare flake: was the stream sent, did the server open the watch?).
            return req.response().timeout(HEADERS_WAIT_SECS, java.util.concurrent.TimeUnit.SECONDS).<HttpClientResponse>map(resp -> {
              resp.exceptionHandler(e -> { }); // our own reset: expected, not an error to log 20,000 times
              req.reset();
              return resp;
            }).recover(e -> Future.failedFuture(new AssertionError("no response headers in " + HEADERS_WAIT_SECS
                + " s for stream " + req.streamId() + " (cycle " + started.get() + " of " + n + "); the server tracks "
                + controller.controlPlane().streams().trackedStreams() + " open watch stream(s), "
                + (started.get() - finished.get()) + " cycles in flight", e)));
          })
          .onComplete(ar -> {
            if (ar.failed()) {
              done.tryFail(ar.cause());
            } else if (finished.incrementAndGet() == n) {
              done.tryComplete();
            } else {
              next[0].run();
            }
          });
    };
    vertx.runOnContext(v -> {
      for (int i = 0; i < Math.min(IN_FLIGHT, n); i++) {
        next[0].run();
      }
    });
    return done.future();
  }

  /** Completes with true once {@code condition} holds (checked every 20 ms), or false after 5 s. */
  static Future<Boolean> settled(Vertx vertx, BooleanSupplier condition) {
    return settled(vertx, condition, Duration.ofSeconds(5));
  }

  static Future<Boolean> settled(Vertx vertx, BooleanSupplier condition, Duration bound) {
    Promise<Boolean> done = Promise.promise();
    long deadline = System.nanoTime() + bound.toNanos();
    // Not setPeriodic(0, ...): from a non-Vert.x thread its first tick can run before Vert.x 5.0.7 has
    // stored the timer's future, and cancelTimer then throws a NullPointerException in the handler, so
    // the promise was never completed (the test's rare flake: a 30 s timeout after the cycles passed).
    // The answer is given before the cancel, too.
    vertx.setPeriodic(20, id -> {
      boolean holds = condition.getAsBoolean();
      if (holds || System.nanoTime() > deadline) {
        done.tryComplete(holds);
        vertx.cancelTimer(id);
      }
    });
    return done.future();
  }

  static long usedHeap() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
