package io.zlayer.worker.store;

/** Handle of a registered watch. */
public interface Watch {
  /** Stops delivery; events already queued on the watcher's context are dropped too. Idempotent. */
  void cancel();
}
