package io.zlayer.worker.agent.session;

import com.google.protobuf.Timestamp;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.StatusReport;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The heartbeat of one link, owned by its {@link Session}: a full snapshot as soon as the link
 * opens, then a report every {@code ttl - clamp(ttl/4, 1, 5)} s (ttl from the latest ack; or the
 * forced interval), at once when asked (debounced) or when a command result is waiting. A busy
 * source gets its last snapshot sent again. A failed report ends the link through {@code failed}.
 */
final class ReportLoop {
  /** Adaptive ticks land in [0.9, 1.0] of the interval (never later than the TTL allows); forced ones around it. */
  private static final double JITTER_MIN = 0.9;
  private static final double FORCED_JITTER_MAX = 1.1;

  private final Vertx vertx;
  private final SessionSettings settings;
  private final Supplier<Future<StatusReport>> status;
  private final SessionListener listener;
  private final List<CommandResult> pendingResults = new ArrayList<>();
  private StatusReport lastSnapshot = StatusReport.getDefaultInstance();
  private Transport.Link link;
  private long nodeId;
  private Consumer<Throwable> failed;
  /** Which link the timers and callbacks belong to: anything of an older one is stale. */
  private long generation;
  private boolean reporting;
  private int ttlSecs;
  private long tickTimer = -1;
  private long debounceTimer = -1;

  ReportLoop(Vertx vertx, SessionSettings settings, Supplier<Future<StatusReport>> status, SessionListener listener) {
    this.vertx = vertx;
    this.settings = settings;
    this.status = status;
    this.listener = listener;
  }

  /** Starts reporting on a newly opened link: a full snapshot first. */
  void start(Transport.Link opened, long node, Consumer<Throwable> onFailure) {
    stop();
    link = opened;
    nodeId = node;
    failed = onFailure;
    ttlSecs = (int) settings.ttlBounds().get().min().toSeconds();
    report(generation, true);
  }

  /** The controller asked for the next report within {@code ttl} seconds. */
  void acked(int ttl) {
    ttlSecs = settings.ttlBounds().get().clamp(ttl);
    if (settings.forcedIntervalMs().getAsLong() <= 0) {
      schedule(generation);
    }
  }

  /** Stops reporting on the current link; pending command results wait for the next one. */
  void stop() {
    generation++;
    link = null;
    reporting = false;
    vertx.cancelTimer(tickTimer);
    vertx.cancelTimer(debounceTimer);
    debounceTimer = -1;
  }

  /** A command's result goes out at once. */
  void commandResult(CommandResult result) {
    pendingResults.add(result);
    report(generation, false);
  }

  /** Asks for a report soon: bursts within the debounce window go out as one. */
  void reportNow() {
    if (link != null && debounceTimer < 0) {
      long g = generation;
      debounceTimer = vertx.setTimer(settings.reportDebounce().toMillis(), t -> {
        debounceTimer = -1;
        report(g, false);
      });
    }
  }

  /** Applies a changed forced interval now. */
  void reschedule() {
    if (link != null) {
      schedule(generation);
    }
  }

  private void schedule(long g) {
    if (g != generation || link == null) {
      return;
    }
    vertx.cancelTimer(tickTimer);
    long forced = settings.forcedIntervalMs().getAsLong();
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long delay = forced > 0 ? (long) (forced * random.nextDouble(JITTER_MIN, FORCED_JITTER_MAX))
        : (long) (TtlBounds.intervalMillis(ttlSecs) * random.nextDouble(JITTER_MIN, 1.0));
    tickTimer = vertx.setTimer(Math.max(1, delay), t -> report(g, false));
  }

  private void report(long g, boolean full) {
    if (g != generation || link == null) {
      return;
    }
    vertx.cancelTimer(tickTimer);
    if (reporting) {
      schedule(g); // the previous report is still out (HTTP): try again at the next tick
      return;
    }
    reporting = true;
    Future<StatusReport> snapshot = status.get();
    if (snapshot.succeeded()) {
      send(g, full, snapshot.result()); // at once: the simulator's thousands of reports a second come here
      return;
    }
    // A busy or absent executor must not make the node look empty: resend the last snapshot.
    snapshot.timeout(settings.snapshotTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .otherwise(err -> lastSnapshot)
        .onSuccess(taken -> send(g, full, taken));
  }

  private void send(long g, boolean full, StatusReport snapshot) {
    if (g != generation || link == null) {
      return;
    }
    lastSnapshot = snapshot;
    List<CommandResult> sent = pendingResults.isEmpty() ? List.of() : List.copyOf(pendingResults);
    pendingResults.clear();
    listener.reported();
    Consumer<Throwable> onFailure = failed;
    link.report(build(snapshot, full, sent)).onComplete(written -> {
      if (written.failed()) {
        pendingResults.addAll(0, sent); // reported again on the next link
      }
      if (g != generation) {
        return;
      }
      reporting = false;
      if (written.failed()) {
        onFailure.accept(written.cause());
      }
    });
    schedule(g); // tick even when no ack comes: a dead link surfaces as a failed report
  }

  private StatusReport build(StatusReport snapshot, boolean full, List<CommandResult> results) {
    Instant now = Instant.now();
    StatusReport.Builder report = snapshot.toBuilder()
        .setNodeId(nodeId)
        .setTs(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .setFullSnapshot(full);
    if (!results.isEmpty()) {
      report.addAllCommandResults(results);
    }
    return report.build();
  }
}
