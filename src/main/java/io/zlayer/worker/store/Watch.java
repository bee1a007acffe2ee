package io.zlayer.worker.store;

import io.vertx.core.Future;

/** Handle of a registered watch. */
public interface Watch {
  /** Stops delivery; events already queued on the watcher's context are dropped too. Idempotent. */
  void cancel();

  /**
   * Completes once the replay was read and the watch receives live events; fails if it could
   * not start (the store failed or closed), so a caller never waits on a silent watch.
   */
  Future<Void> started();
}
