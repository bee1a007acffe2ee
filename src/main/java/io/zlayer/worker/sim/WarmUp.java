package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.bus.Addresses;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Throwaway registrations before the clock starts, so that neither the controller's nor the
 * simulator's JIT compiles during the measured storm: the crypto baseline it is compared with is
 * measured warm too. The operator deregisters them as they register (they never connect) and
 * then collects them, so they count in no figure.
 */
final class WarmUp {
  private final Fleet fleet;
  private final List<FleetLoop> loops;
  private final PrintStream progress;
  private final int registerWindow;

  /** Pace of the warm-up's registrations (see {@link #run}): about a quarter of the box's storm rate. */
  private static final int PACE_PER_SEC = 300;
  /** The paced phase ends once neither JIT compiled for this many seconds in a row under its load... */
  private static final int PACED_QUIET_SECONDS = 5;
  /** ...and at least this many registrations ran (or the warm-up's keys ran out). */
  private static final int MIN_PACED = 3000;
  /**
   * Registrations of the closing burst at full speed (half the warm-up when it is smaller).
   * A burst of 2,000 (1,500 in the second process), one process at a time, was too short and too
   * light: the storm's own conditions (event-loop task queues over 64, contended locks, both
   * processes at once) still deoptimized Netty's event loop, SSL and HTTP/2 code compiled under
   * the paced load, and both simulator JVMs recompiled it during the measured storm (0.14 cores
   * of the two). At 5,000 each, the controller's C2 still made first compilations of methods
   * run once or twice per registration (the signature's random, the token's JSON, the pipeline's
   * write) during the storm: 40-50 us of CPU per registration.
   */
  private static final int MAX_BURST = 8000;
  private static final Duration JIT_QUIET_MAX = Duration.ofSeconds(30);
  private static final long JIT_QUIET_MS_PER_SEC = 50;
  /** Consecutive quiet seconds: a single long compilation only counts once it ends. */
  private static final int JIT_QUIET_SECONDS = 3;
  /** A node registered through another controller than the operator's: asked again for up to 10 s. */
  private static final int UNSEEN_NODE_ATTEMPTS = 100;
  private static final long UNSEEN_NODE_RETRY_MS = 100;

  private final Supplier<Future<JsonObject>> controllerMetrics;
  private final Simulator.Operator operator;

  WarmUp(Simulator.Run run, Supplier<Future<JsonObject>> controllerMetrics) {
    this.controllerMetrics = controllerMetrics;
    this.operator = run.operator();
    this.fleet = run.fleet().sibling(); // registration only: its nodes never connect
    this.loops = run.loops();
    this.progress = run.progress().out;
    this.registerWindow = run.settings().shape().registerWindow();
  }

  /**
   * Registers throwaway workers at {@link #PACE_PER_SEC} (the operator deregistering them as they
   * come) until neither JVM has compiled for {@link #PACED_QUIET_SECONDS} seconds in a row (at
   * least {@link #MIN_PACED} of them, at most all of {@code keys} but the burst), then a burst
   * of up to {@link #MAX_BURST} at full speed for the storm's own paths; the operator then
   * collects them all, and this waits for both JITs to go quiet. Bounded by {@code timeout}.
   *
   * <p>Why a steady pace and not a storm like the measured one: while C2's queue is long (it
   * always is in a storm on two cores), HotSpot compiles new hot methods at tier 2 instead of 3
   * and raises its tier-4 thresholds in proportion to the queue (Tier3DelayOn, Tier4LoadFeedback);
   * when the load stops it drops the queued tasks of methods no longer running. After a warm-up
   * storm as large as the measured one, the methods that run a few times per registration (the
   * signature, the token check, the commit, the protobuf and HTTP/2 paths) were still C1 code,
   * and C2 compiled them, for seconds of CPU, during the measured storm. At a steady pace the
   * compiler has CPU to spare and keeps up.
   */
  void run(KeyMaterial[] keys, Duration timeout, Rendezvous beforeBurst) throws Exception {
    int n = keys.length;
    long t0 = System.nanoTime();
    long deadline = t0 + timeout.toNanos();
    fleet.grpcTarget = n;
    List<SimNode> workers = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      workers.add(new SimNode(fleet, i, loops.get(i % loops.size()), keys[i], false));
    }
    fleet.registerPermits.release(registerWindow);
    int burst = Math.min(MAX_BURST, n / 2);
    int paced = n - burst;
    int started = 0;
    int deregistered = 0;
    long period = 1_000_000_000L / PACE_PER_SEC;
    long nextStart = System.nanoTime();
    JitMeter jit = new JitMeter(controllerMetrics);
    long nextSample = System.nanoTime() + 1_000_000_000L;
    while (started < paced && System.nanoTime() < deadline
        && (jit.quietSeconds < PACED_QUIET_SECONDS || started < Math.min(paced, MIN_PACED))) {
      long now = System.nanoTime();
      if (now >= nextStart && fleet.registerPermits.tryAcquire()) {
        workers.get(started++).register();
        nextStart = Math.max(nextStart + period, now); // after a stall: the pace, not a catch-up burst
      }
      SimNode done = fleet.registeredQueue.poll();
      if (done != null) {
        deregistered += deregister(done);
      } else {
        Thread.sleep(1); // pacing
      }
      if (now >= nextSample) {
        jit.sample();
        nextSample += 1_000_000_000L;
      }
    }
    int pacedDone = started;
    boolean converged = jit.quietSeconds >= PACED_QUIET_SECONDS;
    // The burst: the storm's concurrency (every lane busy, every simulator process at once), so
    // its code paths are compiled too.
    awaitRegistered(started, deadline); // the paced phase's last registrations
    deregistered += deregisterRegistered();
    beforeBurst.await();
    int burstEnd = Math.min(n, started + burst);
    for (; started < burstEnd && System.nanoTime() < deadline; started++) {
      if (!fleet.registerPermits.tryAcquire(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        break;
      }
      workers.get(started).register();
    }
    awaitRegistered(started, deadline);
    // Stragglers (a registration still retrying) must not register during the measured storm:
    // stop them all, then wait until no registration is in flight (each gives its permit back).
    workers.subList(0, started).forEach(SimNode::stop);
    while (fleet.registerPermits.availablePermits() < registerWindow && System.nanoTime() < deadline) {
      Thread.sleep(20); // bounded poll of in-process counters
    }
    deregistered += deregisterRegistered();
    double registerSecs = (System.nanoTime() - t0) / 1e9;
    int collected = collect();
    double quietAfter = awaitQuietJit(controllerMetrics);
    progress.printf("sim: warm-up: %d throwaway workers registered (%d at %d/s until %s, then %d at full speed) "
        + "in %.1f s, %d deregistered and %d collected by the operator; JIT quiet in both JVMs %.0f s later (not "
        + "counted in any figure)%n", fleet.registered.get(), pacedDone, PACE_PER_SEC,
        converged ? "neither JIT had compiled for " + PACED_QUIET_SECONDS + " s" : "the warm-up's keys ran out",
        started - pacedDone, registerSecs, deregistered, collected, quietAfter);
  }

  /** Waits (until {@code deadline}) for {@code started} registrations to have completed. */
  private void awaitRegistered(int started, long deadline) throws InterruptedException {
    while (fleet.registered.get() < started && System.nanoTime() < deadline) {
      Thread.sleep(20); // bounded poll of an in-process counter
    }
  }

  /** Deregisters the nodes registered since the last call; returns how many. */
  private int deregisterRegistered() throws Exception {
    int n = 0;
    for (SimNode w = fleet.registeredQueue.poll(); w != null; w = fleet.registeredQueue.poll()) {
      n += deregister(w);
    }
    return n;
  }

  /** Where the simulator processes meet before the burst (a no-op for one process). */
  @FunctionalInterface
  interface Rendezvous {
    void await() throws InterruptedException;
  }

  /**
   * The operator's gc of the deregistered warm-up nodes. On etcd, thousands of deletes at once may
   * meet etcd's load shedding ("too many requests", answered 503): the gc is idempotent, so it is
   * asked again, a bounded number of times, after a pause.
   */
  private static final int GC_ATTEMPTS = 10;
  private static final long GC_RETRY_MS = 2_000;

  private int collect() throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return operator.request(Addresses.OPERATOR_GC, new JsonObject()).getInteger("collected", 0);
      } catch (Exception e) {
        if (attempt >= GC_ATTEMPTS) {
          throw e;
        }
        progress.printf("sim: warm-up: gc refused (%s); again in %d ms%n", e.getMessage(), GC_RETRY_MS);
        Thread.sleep(GC_RETRY_MS); // bounded: GC_ATTEMPTS
      }
    }
  }

  private int deregister(SimNode w) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        operator.request(Addresses.OPERATOR_DEREGISTER,
            new JsonObject().put("node_id", w.nodeId()).put("reason", "simulator warm-up"));
        return 1;
      } catch (Exception e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("already deregistered")) {
          return 0; // a retried request whose first attempt went through
        }
        // With several controllers the operator's may not have seen the node registered through
        // another one yet (it follows etcd with a watch): ask again shortly.
        if (m.contains("not registered") && attempt < UNSEEN_NODE_ATTEMPTS) {
          Thread.sleep(UNSEEN_NODE_RETRY_MS); // bounded: UNSEEN_NODE_ATTEMPTS
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Waits (at most {@link #JIT_QUIET_MAX}) until neither this JVM nor the controller spent more
   * than {@link #JIT_QUIET_MS_PER_SEC} a second compiling, {@link #JIT_QUIET_SECONDS} seconds in a
   * row: the compilers work through
   * their queue well after the code first ran. Returns the seconds waited.
   */
  private static double awaitQuietJit(Supplier<Future<JsonObject>> controllerMetrics) throws InterruptedException {
    long t0 = System.nanoTime();
    JitMeter jit = new JitMeter(controllerMetrics);
    while (jit.quietSeconds < JIT_QUIET_SECONDS && System.nanoTime() - t0 < JIT_QUIET_MAX.toNanos()) {
      Thread.sleep(1000); // sampling period of the compilers' activity
      jit.sample();
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** Compilation time of this JVM and the controller's, sampled about once a second. */
  private static final class JitMeter {
    private final Supplier<Future<JsonObject>> controllerMetrics;
    private final java.lang.management.CompilationMXBean local = ManagementFactory.getCompilationMXBean();
    private long lastLocal;
    private long lastRemote;
    /** Consecutive samples in which neither JVM compiled more than {@link #JIT_QUIET_MS_PER_SEC}. */
    int quietSeconds;

    JitMeter(Supplier<Future<JsonObject>> controllerMetrics) {
      this.controllerMetrics = controllerMetrics;
      this.lastLocal = local.getTotalCompilationTime();
      this.lastRemote = remoteJit(controllerMetrics);
    }

    void sample() {
      long nowLocal = local.getTotalCompilationTime();
      long nowRemote = remoteJit(controllerMetrics);
      boolean quiet = nowLocal - lastLocal < JIT_QUIET_MS_PER_SEC && nowRemote - lastRemote < JIT_QUIET_MS_PER_SEC;
      quietSeconds = quiet ? quietSeconds + 1 : 0;
      lastLocal = nowLocal;
      lastRemote = nowRemote;
    }
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
