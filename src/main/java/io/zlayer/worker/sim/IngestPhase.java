package io.zlayer.worker.sim;

import java.time.Duration;

/**
 * Heartbeat ingest at saturation: every session reports at a forced short interval; the
 * controller's heartbeat counter over {@code duration} is the figure, with what the fleet offered.
 */
final class IngestPhase {
  /** Reports per second: counted by the controller, acked, and sent by the fleet. */
  record Result(double ingestControllerRate, double ingestAckRate, double ingestOfferedRate) {
    static final Result NONE = new Result(Double.NaN, Double.NaN, Double.NaN);
  }

  /** Time for every session to pick up a changed interval before and after the measurement. */
  private static final Duration SETTLE = Duration.ofSeconds(3);

  private IngestPhase() {
  }

  static Result run(Simulator.Run run, Duration interval, Duration duration, Duration normalInterval)
      throws InterruptedException {
    if (interval.toMillis() <= 0 || duration.toMillis() <= 0) {
      return Result.NONE;
    }
    Fleet fleet = run.fleet();
    Progress progress = run.progress();
    progress.phase = "ingest";
    fleet.forcedIntervalMs = interval.toMillis();
    run.nodes().forEach(SimNode::reschedule);
    progress.sleep(SETTLE);
    progress.out.println("SIM-INGEST-START");
    long h0 = progress.heartbeats();
    long a0 = fleet.acks.sum();
    long r0 = fleet.reportsSent.sum();
    long w0 = System.nanoTime();
    progress.sleep(duration);
    long h1 = progress.heartbeats();
    double secs = (System.nanoTime() - w0) / 1e9;
    progress.out.println("SIM-INGEST-END");
    Result result = new Result((h1 - h0) / secs, (fleet.acks.sum() - a0) / secs, (fleet.reportsSent.sum() - r0) / secs);
    progress.out.printf("sim: ingest at a forced %d ms interval: controller %.0f reports/s, acks %.0f/s, sent %.0f/s%n",
        interval.toMillis(), result.ingestControllerRate(), result.ingestAckRate(), result.ingestOfferedRate());
    fleet.forcedIntervalMs = normalInterval.toMillis();
    run.nodes().forEach(SimNode::reschedule);
    progress.sleep(SETTLE);
    return result;
  }
}
