package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Throwaway workers run the whole path (register, mTLS connect with three streams, deregister)
 * before the clock starts, so that neither the controller's nor the simulator's JIT compiles
 * during the measured storm: the crypto baseline it is compared with is measured warm too. They
 * end {@code deregistered} and are not part of the fleet's figures.
 */
final class WarmUp {
  private final Simulator.Fleet fleet;
  private final List<Simulator.FleetVerticle> loops;
  private final Simulator owner;
  private final PrintStream progress;

  private static final Duration JIT_QUIET_MAX = Duration.ofSeconds(30);
  private static final long JIT_QUIET_MS_PER_SEC = 50;
  /** Consecutive quiet seconds: a single long compilation only counts once it ends. */
  private static final int JIT_QUIET_SECONDS = 3;

  private final Supplier<Future<JsonObject>> controllerMetrics;

  WarmUp(Simulator.Fleet main, List<Simulator.FleetVerticle> loops, Simulator owner, int connectWindow,
         PrintStream progress, Supplier<Future<JsonObject>> controllerMetrics) {
    this.controllerMetrics = controllerMetrics;
    this.fleet = new Simulator.Fleet();
    this.fleet.token = main.token;
    this.fleet.laneTokens.addAll(main.laneTokens);
    this.fleet.caPem = main.caPem;
    this.fleet.servers = main.servers;
    this.fleet.connectPermits = new Semaphore(connectWindow);
    this.fleet.holdConnects = false; // each connects as soon as it registered
    this.fleet.log = progress;
    this.fleet.owner = owner;
    this.loops = loops;
    this.owner = owner;
    this.progress = progress;
  }

  /** Runs {@code keyPems.length} throwaway workers through the path; bounded by {@code timeout}. */
  void run(String[] keyPems, byte[][] csrs, int registerWindow, Duration timeout) throws Exception {
    int n = keyPems.length;
    long t0 = System.nanoTime();
    long deadline = t0 + timeout.toNanos();
    fleet.grpcTarget = n;
    List<SimWorker> workers = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      workers.add(new SimWorker(fleet, i, loops.get(i % loops.size()).ctx, keyPems[i], csrs[i]));
    }
    fleet.registerPermits.release(registerWindow);
    for (SimWorker w : workers) {
      if (!fleet.registerPermits.tryAcquire(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        break;
      }
      Simulator.FleetVerticle fv = loops.get(w.index % loops.size());
      fv.ctx.runOnContext(v -> w.start(fv.registerChannel));
    }
    while (fleet.connected.get() < n && System.nanoTime() < deadline) {
      Thread.sleep(20); // bounded poll of in-process counters
    }
    int connected = fleet.connected.get();
    List<Future<Void>> done = new ArrayList<>();
    for (SimWorker w : workers) {
      Promise<Void> p = Promise.promise();
      w.context().runOnContext(v -> w.deregister().onComplete(p));
      done.add(p.future());
    }
    var all = Future.join(done).toCompletionStage().toCompletableFuture();
    try {
      all.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // counted below
    }
    long deregistered = done.stream().filter(Future::succeeded).count();
    double quietAfter = awaitQuietJit(controllerMetrics);
    progress.printf("sim: warm-up: %d throwaway workers registered, %d connected, %d deregistered in %.1f s; "
        + "JIT quiet in both JVMs %.0f s later (not counted in any figure)%n", fleet.registered.get(), connected,
        deregistered, (System.nanoTime() - t0) / 1e9 - quietAfter, quietAfter);
  }

  /**
   * Waits (at most {@link #JIT_QUIET_MAX}) until neither this JVM nor the controller spent more
   * than {@link #JIT_QUIET_MS_PER_SEC} a second compiling, {@link #JIT_QUIET_SECONDS} seconds in a
   * row: the compilers work through
   * their queue well after the code first ran. Returns the seconds waited.
   */
  private static double awaitQuietJit(Supplier<Future<JsonObject>> controllerMetrics) throws InterruptedException {
    var local = ManagementFactory.getCompilationMXBean();
    long t0 = System.nanoTime();
    long lastLocal = local.getTotalCompilationTime();
    long lastRemote = remoteJit(controllerMetrics);
    int quietSeconds = 0;
    while (quietSeconds < JIT_QUIET_SECONDS && System.nanoTime() - t0 < JIT_QUIET_MAX.toNanos()) {
      Thread.sleep(1000); // sampling period of the compilers' activity
      long nowLocal = local.getTotalCompilationTime();
      long nowRemote = remoteJit(controllerMetrics);
      boolean quiet = nowLocal - lastLocal < JIT_QUIET_MS_PER_SEC && nowRemote - lastRemote < JIT_QUIET_MS_PER_SEC;
      quietSeconds = quiet ? quietSeconds + 1 : 0;
      lastLocal = nowLocal;
      lastRemote = nowRemote;
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  private static long remoteJit(Supplier<Future<JsonObject>> controllerMetrics) {
    try {
      return controllerMetrics.get().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS)
          .getLong("jit_compile_ms", 0L);
    } catch (Exception e) {
      return 0; // no metrics: judge by this JVM alone
    }
  }
}
