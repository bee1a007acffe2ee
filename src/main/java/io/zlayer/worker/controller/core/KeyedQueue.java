package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs asynchronous work one at a time per key (a token, a node), in arrival order, from any
 * thread: read-modify-write sequences on one record then never interleave inside this controller.
 */
final class KeyedQueue<K> {
  private final Map<K, Future<?>> tails = new HashMap<>();

  <T> Future<T> run(K key, Supplier<Future<T>> work) {
    io.vertx.core.Context caller = io.vertx.core.Vertx.currentContext();
    Promise<Void> done = Promise.promise();
    Future<?> previous;
    synchronized (tails) {
      previous = tails.getOrDefault(key, Future.succeededFuture());
      tails.put(key, done.future());
    }
    Future<T> result = previous.transform(ar -> {
      try {
        return work.get();
      } catch (RuntimeException e) {
        return Future.<T>failedFuture(e);
      }
    }).onComplete(ar -> {
      done.complete();
      synchronized (tails) {
        tails.remove(key, done.future());
      }
    });
    return onCaller(caller, result);
  }

  /**
   * Queued work resumes on whichever event loop finished the work before it; the caller's
   * continuation (which may answer an HTTP or gRPC request) must run on the caller's own loop.
   */
  private static <T> Future<T> onCaller(io.vertx.core.Context caller, Future<T> result) {
    if (caller == null) {
      return result;
    }
    Promise<T> back = Promise.promise();
    result.onComplete(ar -> {
      if (io.vertx.core.Vertx.currentContext() == caller) {
        back.handle(ar);
      } else {
        caller.runOnContext(v -> back.handle(ar));
      }
    });
    return back.future();
  }
}
