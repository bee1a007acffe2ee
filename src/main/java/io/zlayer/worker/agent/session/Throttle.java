package io.zlayer.worker.agent.session;

import io.vertx.core.Future;

/** Bounds how many connection setups run at once (the simulator's connect window); the agent has none. */
public interface Throttle {
  Throttle NONE = new Throttle() {
    @Override
    public Future<Void> acquire() {
      return Future.succeededFuture();
    }

    @Override
    public void release() {
    }
  };

  /** Completes (on the caller's context) when a setup may start. */
  Future<Void> acquire();

  void release();
}
