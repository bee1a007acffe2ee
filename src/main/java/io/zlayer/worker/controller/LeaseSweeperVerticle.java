package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.zlayer.worker.config.Durations;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Marks nodes whose lease expired unreachable, on a fixed tick; and forgets deregistered nodes
 * once {@code node_gc_threshold} has passed since they left.
 */
public final class LeaseSweeperVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(LeaseSweeperVerticle.class);
  /** Sweep period: the resolution of "expired", far below the smallest TTL + grace. */
  public static final long SWEEP_PERIOD_MS = 500;

  private final NodeLifecycle lifecycle;
  private final NodeDirectory nodes;
  private final Duration gcThreshold;
  private long timer = -1;
  private long gcTimer = -1;
  private boolean collecting;

  public LeaseSweeperVerticle(NodeLifecycle lifecycle, NodeDirectory nodes, Duration gcThreshold) {
    this.lifecycle = lifecycle;
    this.nodes = nodes;
    this.gcThreshold = gcThreshold;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(SWEEP_PERIOD_MS, id -> lifecycle.sweep());
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
      collected = nodes.collectDeregistered(Instant.now().minus(gcThreshold).getEpochSecond());
    } catch (RuntimeException e) {
      collected = Future.failedFuture(e);
    }
    collected
        .onSuccess(ids -> {
          if (!ids.isEmpty()) {
            LOG.info("collected {} node(s) deregistered more than {} ago", ids.size(), Durations.format(gcThreshold));
          }
        })
        .onFailure(e -> LOG.warn("could not collect deregistered nodes: {}", e.getMessage()))
        .onComplete(ar -> collecting = false);
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    vertx.cancelTimer(gcTimer);
    return Future.succeededFuture();
  }
}
