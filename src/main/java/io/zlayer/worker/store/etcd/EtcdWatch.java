package io.zlayer.worker.store.etcd;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchDelivery;
import io.zlayer.worker.store.WatchEvent;
import java.util.List;

/** One watch of {@link EtcdWatchHub}: its prefix, the revision of its last delivered event, its caller's context. */
final class EtcdWatch implements Watch {

  private final EtcdWatchHub hub;
  final String prefix;
  private final Context context;
  private final Handler<WatchEvent> handler;
  final Promise<Void> started = Promise.promise();
  volatile boolean cancelled;
  /** Events up to this revision were delivered (or are queued); touched on the hub's context. */
  long lastRevision;
  /** The etcd watch id on the current stream; touched on the hub's context. */
  long id;

  EtcdWatch(EtcdWatchHub hub, String prefix, long afterRevision, Context context, Handler<WatchEvent> handler) {
    this.hub = hub;
    this.prefix = prefix;
    this.lastRevision = Math.max(0, afterRevision);
    this.context = context;
    this.handler = handler;
  }

  /** runOnContext is FIFO per context, so the handler sees events in revision order. */
  void deliver(List<WatchEvent> events) {
    WatchDelivery.deliver(context, events, () -> cancelled, prefix, handler);
  }

  @Override
  public Future<Void> started() {
    return started.future();
  }

  @Override
  public void cancel() {
    if (!cancelled) {
      cancelled = true;
      hub.cancel(this);
    }
  }
}
