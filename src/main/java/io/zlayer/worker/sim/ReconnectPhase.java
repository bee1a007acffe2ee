package io.zlayer.worker.sim;

import java.time.Duration;

/**
 * The fleet's return after the controller is killed and restarted by whoever runs the simulator
 * (bench/run waits for {@code SIM-READY-FOR-RESTART}): from the first dropped session to all
 * sessions up again, and whether the controller marked anyone unreachable meanwhile.
 */
final class ReconnectPhase {
  /** When the first session dropped and when all were back (epoch ms), and the most unreachable nodes seen. */
  record Result(boolean reconnectObserved, long reconnectDropEpochMs, long reconnectAllBackEpochMs,
                double reconnectSecs, long maxUnreachable) {
  }

  /** Unreachable marks would show up within this after the fleet is back. */
  private static final Duration AFTER = Duration.ofSeconds(10);

  private ReconnectPhase() {
  }

  static Result run(Simulator.Run run, Duration expect) throws InterruptedException {
    Fleet fleet = run.fleet();
    Progress progress = run.progress();
    if (expect.toMillis() <= 0) {
      return new Result(false, 0, 0, Double.NaN, progress.maxUnreachable.get());
    }
    int n = run.nodes().size();
    progress.phase = "await-restart";
    fleet.expectingDrops = true;
    progress.maxUnreachable.set(0);
    progress.out.println("SIM-READY-FOR-RESTART: kill and restart the controller now");
    progress.out.flush();
    boolean observed = false;
    double secs = Double.NaN;
    if (progress.waitFor(() -> fleet.dropEpochMs.get() != 0, expect)) {
      progress.phase = "reconnect";
      progress.waitFor(() -> fleet.allBackEpochMs.get() != 0, expect);
      if (fleet.allBackEpochMs.get() != 0) {
        observed = true;
        secs = (fleet.allBackEpochMs.get() - fleet.dropEpochMs.get()) / 1000.0;
        progress.out.printf("SIM-ALL-BACK: all %d back %.2f s after the first drop%n", n, secs);
      } else {
        progress.out.printf("sim: only %d of %d back after %s%n", fleet.connected.get(), n, expect);
      }
      progress.phase = "after-reconnect";
      progress.sleep(AFTER);
    } else {
      progress.out.println("sim: no drop observed within " + expect);
    }
    fleet.expectingDrops = false;
    return new Result(observed, fleet.dropEpochMs.get(), fleet.allBackEpochMs.get(), secs,
        progress.maxUnreachable.get());
  }
}
