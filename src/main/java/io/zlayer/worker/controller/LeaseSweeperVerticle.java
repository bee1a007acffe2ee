package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;

/** Marks nodes whose lease expired unreachable, on a fixed tick. */
public final class LeaseSweeperVerticle extends VerticleBase {
  /** Sweep period: the resolution of "expired", far below the smallest TTL + grace. */
  public static final long SWEEP_PERIOD_MS = 500;

  private final NodeLifecycle lifecycle;
  private long timer = -1;

  public LeaseSweeperVerticle(NodeLifecycle lifecycle) {
    this.lifecycle = lifecycle;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(SWEEP_PERIOD_MS, id -> lifecycle.sweep());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }
}
