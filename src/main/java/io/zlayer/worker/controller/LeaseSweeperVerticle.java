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

  public LeaseSweeperVerticle(NodeService nodes, Duration gcThreshold) {
    this.nodes = nodes;
    this.gcThreshold = gcThreshold;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(SWEEP_PERIOD_MS, id -> nodes.sweep());
    if (!gcThreshold.isZero()) {
      // A tenth of the threshold, between 1 s and 1 min: the resolution of "collected after".
      long period = Math.max(1000, Math.min(60_000, gcThreshold.toMillis() / 10));
      gcTimer = vertx.setPeriodic(period, id -> collect());
    }
    return Future.succeededFuture();
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
