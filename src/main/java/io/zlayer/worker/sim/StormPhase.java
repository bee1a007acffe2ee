package io.zlayer.worker.sim;

import java.util.concurrent.TimeUnit;

/**
 * The registration storm, then the connection of the whole fleet. The storm is {@code Register}
 * alone (each node's session joins, its connection held back); then every node's session
 * connects (mTLS and the three streams, or the legacy poll and status) within the connect window.
 */
final class StormPhase {
  /** What the storm measured. */
  record Result(int workers, int grpcWorkers, int legacyWorkers, long registered, double keygenSecs,
                double registerSecs, double registerRate, double connectSecs, long registerStartEpochMs,
                long registerEndEpochMs, long allConnectedEpochMs) {
  }

  private static final long PERMIT_WAIT_MS = 50;
  private static final long MAX_RAMP_SLEEP_MS = 50;

  private StormPhase() {
  }

  static Result run(Simulator.Run run, double keygenSecs) throws InterruptedException {
    Fleet fleet = run.fleet();
    Progress progress = run.progress();
    Simulator.Settings s = run.settings();
    int n = run.nodes().size();
    progress.phase = "connect";
    fleet.registerPermits.release(s.shape().registerWindow());
    long start = progress.start();
    long startEpochMs = System.currentTimeMillis();
    double ramp = s.shape().rampPerSec();
    for (int i = 0; i < n; i++) {
      if (ramp > 0) {
        long due = start + (long) (i * 1e9 / ramp);
        while (System.nanoTime() < due) {
          progress.maybe();
          Thread.sleep(Math.max(1, Math.min(MAX_RAMP_SLEEP_MS, (due - System.nanoTime()) / 1_000_000))); // the ramp's pace
        }
      }
      while (!fleet.registerPermits.tryAcquire(PERMIT_WAIT_MS, TimeUnit.MILLISECONDS)) {
        progress.maybe();
      }
      progress.maybe();
      run.nodes().get(i).register();
    }
    progress.waitFor(() -> fleet.registered.get() >= n, s.shape().connectTimeout()); // failed registrations retry
    fleet.registeredQueue.clear(); // only the warm-up reads it
    double registerSecs = (fleet.lastRegisteredNanos.get() - start) / 1e9;
    progress.out.printf("sim: registration storm: %d registered in %.2f s; now connecting%n", fleet.registered.get(),
        registerSecs);
    long connectStart = System.nanoTime();
    for (SimNode node : run.nodes()) {
      node.connect();
    }
    if (!progress.waitFor(() -> fleet.connected.get() >= n, s.shape().connectTimeout())) {
      progress.out.printf("sim: only %d of %d connected after %s%n", fleet.connected.get(), n, s.shape().connectTimeout());
    }
    double connectSecs = fleet.allConnectedNanos.get() == 0 ? Double.NaN
        : (fleet.allConnectedNanos.get() - connectStart) / 1e9;
    progress.print();
    long connected = fleet.allConnectedNanos.get();
    return new Result(n, fleet.grpcTarget, fleet.legacyTarget, fleet.registered.get(), keygenSecs, registerSecs,
        fleet.registered.get() / registerSecs, connectSecs, startEpochMs,
        startEpochMs + (fleet.lastRegisteredNanos.get() - start) / 1_000_000,
        connected == 0 ? 0 : startEpochMs + (connected - start) / 1_000_000);
  }
}
