package io.zlayer.worker.store.etcd;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchEvent;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One watch of {@link EtcdWatchHub}: its prefix, the revision of its last delivered event, its caller's context. */
final class EtcdWatch implements Watch {
  private static final Logger log = LoggerFactory.getLogger(EtcdWatch.class);

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
    context.runOnContext(v -> {
      for (WatchEvent e : events) {
        if (cancelled) {
          return;
        }
        try {
          handler.handle(e);
        } catch (RuntimeException ex) {
          log.error("watch handler for prefix '{}' failed on {}", prefix, e, ex);
        }
      }
    });
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
