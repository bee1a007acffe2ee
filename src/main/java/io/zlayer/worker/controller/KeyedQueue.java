package io.zlayer.worker.controller;

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
    Promise<Void> done = Promise.promise();
    Future<?> previous;
    synchronized (tails) {
      previous = tails.getOrDefault(key, Future.succeededFuture());
      tails.put(key, done.future());
    }
    return previous.transform(ar -> {
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
  }
}
