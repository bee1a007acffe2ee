package io.zlayer.worker.cli;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;

/**
 * Runs a long-lived process: one Vert.x instance, a graceful stop on SIGTERM/Ctrl-C (a JVM
 * shutdown hook), and an exit code when the process ends by itself.
 */
final class Daemon {
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);

  /** With Micrometer metrics: the controller's {@code /metrics} shows Vert.x's meters too. */
  final Vertx vertx = io.zlayer.worker.controller.operator.PrometheusMetrics.vertxMetrics(new VertxOptions()).build();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile Supplier<Future<?>> onSignal = () -> Future.succeededFuture();
  private volatile boolean signalled;

  Daemon() {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      signalled = true;
      try {
        Cli.await(onSignal.get(), STOP_TIMEOUT);
      } catch (Exception e) {
        System.err.println("error while stopping: " + Cli.describe(e));
      } finally {
        Cli.closeQuietly(vertx);
        stopped.countDown();
      }
    }, "zlayer-shutdown"));
  }

  /** What to do on SIGTERM or Ctrl-C. */
  void onSignal(Supplier<Future<?>> stop) {
    this.onSignal = stop;
  }

  /** Blocks the main thread until {@code ended} completes (then returns its code) or a signal stopped us. */
  int runUntil(Future<Integer> ended) throws InterruptedException {
    CountDownLatch done = new CountDownLatch(1);
    int[] code = {Cli.EXIT_OK};
    ended.onComplete(ar -> {
      code[0] = ar.succeeded() ? ar.result() : Cli.EXIT_FAILURE;
      done.countDown();
    });
    while (done.getCount() > 0 && stopped.getCount() > 0) {
      done.await(200, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
    if (signalled) {
      stopped.await();
    } else {
      onSignal = () -> Future.succeededFuture(); // ended by itself: nothing left to stop on exit
    }
    return code[0];
  }
}
