package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A registration storm of throwaway workers before the clock starts, so that neither the
 * controller's nor the simulator's JIT compiles during the measured storm: the crypto baseline
 * it is compared with is measured warm too. The operator then deregisters them (they never
 * connect), so they end {@code deregistered} and count in no figure. The compilers keep working
 * for a while after code gets hot, hence the wait for them to go quiet.
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
  private final Simulator.Operator operator;

  WarmUp(Simulator.Fleet main, List<Simulator.FleetVerticle> loops, Simulator owner, Simulator.Operator operator,
         PrintStream progress, Supplier<Future<JsonObject>> controllerMetrics) {
    this.controllerMetrics = controllerMetrics;
    this.operator = operator;
    this.fleet = new Simulator.Fleet();
    this.fleet.token = main.token;
    this.fleet.laneTokens.addAll(main.laneTokens);
    this.fleet.caPem = main.caPem;
    this.fleet.servers = main.servers;
    this.fleet.connectPermits = new Semaphore(0);
    this.fleet.holdConnects = true; // registration only: they never connect
    this.fleet.log = progress;
    this.fleet.owner = owner;
    this.loops = loops;
    this.owner = owner;
    this.progress = progress;
  }

  /** Registers {@code keyPems.length} throwaway workers, then deregisters them; bounded by {@code timeout}. */
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
      owner.startRegistration(w);
    }
    while (fleet.registered.get() < n && System.nanoTime() < deadline) {
      Thread.sleep(20); // bounded poll of in-process counters
    }
    double registerSecs = (System.nanoTime() - t0) / 1e9;
    int deregistered = 0;
    for (SimWorker w : workers) {
      if (w.nodeId() > 0 && System.nanoTime() < deadline) {
        operator.request(Addresses.OPERATOR_DEREGISTER,
            new JsonObject().put("node_id", w.nodeId()).put("reason", "simulator warm-up"));
        deregistered++;
      }
    }
    double quietAfter = awaitQuietJit(controllerMetrics);
    progress.printf("sim: warm-up: %d throwaway workers registered in %.1f s and %d deregistered by the operator; "
        + "JIT quiet in both JVMs %.0f s later (not counted in any figure)%n", fleet.registered.get(), registerSecs,
        deregistered, quietAfter);
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
