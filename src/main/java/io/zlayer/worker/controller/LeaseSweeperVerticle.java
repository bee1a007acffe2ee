package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.zlayer.worker.controller.core.NodeService;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The timers of the node rules: a fixed tick on which the {@link NodeService} marks nodes whose
 * lease expired unreachable, and one on which it forgets nodes deregistered more than
 * {@code node_gc_threshold} ago. The rules and their clock are the service's.
 */
public final class LeaseSweeperVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(LeaseSweeperVerticle.class);
  /** Sweep period: the resolution of "expired", far below the smallest TTL + grace. */
  public static final long SWEEP_PERIOD_MS = 500;

  private final NodeService nodes;
  private final Duration gcThreshold;
  private long timer = -1;
  private long gcTimer = -1;
  private boolean collecting;
  private long lastTick;
  private long slackMs;
  private static final long STALL_LOG_MS = 2_000;

  public LeaseSweeperVerticle(NodeService nodes, Duration gcThreshold) {
    this.nodes = nodes;
    this.gcThreshold = gcThreshold;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(SWEEP_PERIOD_MS, id -> tick());
    if (!gcThreshold.isZero()) {
      // A tenth of the threshold, between 1 s and 1 min: the resolution of "collected after".
      long period = Math.max(1000, Math.min(60_000, gcThreshold.toMillis() / 10));
      gcTimer = vertx.setPeriodic(period, id -> collect());
    }
    return Future.succeededFuture();
  }

  /**
   * One sweep, with this controller's own recent stalls as slack: a tick that comes late says the
   * process was not running (CPU starvation on a loaded box, a long GC pause), and the workers'
   * reports were waiting in its sockets meanwhile. Silence this controller could not have heard
   * does not count against a worker: leases are swept that much later, the slack decaying by a tenth
   * of the sweep period per tick (a 10 s stall is forgiven for ~100 s).
   */
  private void tick() {
    long now = System.nanoTime();
    if (lastTick != 0) {
      long late = (now - lastTick) / 1_000_000 - SWEEP_PERIOD_MS;
      slackMs = Math.max(late, slackMs - SWEEP_PERIOD_MS / 10);
      if (late > STALL_LOG_MS) {
        LOG.warn("this controller did not run for {} ms (a loaded box or a GC pause): leases get that much"
            + " longer before they count as expired", late);
      }
    }
    lastTick = now;
    nodes.sweep(Math.max(0, slackMs));
  }

  private void collect() {
    if (collecting) {
      return;
    }
    collecting = true;
    Future<java.util.List<Long>> collected;
    try {
      collected = nodes.collect(gcThreshold);
    } catch (RuntimeException e) {
      collected = Future.failedFuture(e);
    }
    collected.onFailure(e -> LOG.warn("could not collect deregistered nodes: {}", e.getMessage()))
        .onComplete(ar -> collecting = false);
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    vertx.cancelTimer(gcTimer);
    return Future.succeededFuture();
  }
}
