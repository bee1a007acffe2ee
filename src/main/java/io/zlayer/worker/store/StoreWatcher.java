package io.zlayer.worker.store;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import java.util.List;

/** A registered watch of {@link EmbeddedStore}: delivers batches of events on the watcher's context. */
final class StoreWatcher implements Watch {


  final String prefix;
  private final Context context;
  private final Handler<WatchEvent> handler;
  private final WatcherIndex registry;
  volatile boolean cancelled;
  final io.vertx.core.Promise<Void> started = io.vertx.core.Promise.promise();
  /** Live events at or below this revision were covered by the replay; set on the store thread. */
  long floor;

  StoreWatcher(String prefix, Context context, Handler<WatchEvent> handler, WatcherIndex registry) {
    this.prefix = prefix;
    this.context = context;
    this.handler = handler;
    this.registry = registry;
  }

  /**
   * Called only from the store thread, in commit order. runOnContext queues tasks FIFO per context, so
   * the handler sees events in revision order. The cancelled check runs at delivery time, so events
   * already queued when cancel() is called are dropped.
   */
  void deliver(List<WatchEvent> events) {
    WatchDelivery.deliver(context, events, () -> cancelled, prefix, handler);
  }

  @Override
  public io.vertx.core.Future<Void> started() {
    return started.future();
  }

  @Override
  public void cancel() {
    cancelled = true;
    registry.remove(this);
  }
}
