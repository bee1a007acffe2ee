package io.zlayer.worker.store;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** How every store hands a watcher its events: on the watcher's context, in order, until cancelled. */
public final class WatchDelivery {
  private static final Logger LOG = LoggerFactory.getLogger(WatchDelivery.class);

  private WatchDelivery() {
  }

  /**
   * Queues {@code events} on {@code context}. runOnContext is FIFO per context, so the handler sees
   * events in revision order; the cancelled check runs at delivery time, so events already queued
   * when the watch is cancelled are dropped. A handler's exception is logged, not propagated.
   */
  public static void deliver(Context context, List<WatchEvent> events, BooleanSupplier cancelled, String prefix,
                             Handler<WatchEvent> handler) {
    context.runOnContext(v -> {
      for (WatchEvent e : events) {
        if (cancelled.getAsBoolean()) {
          return;
        }
        try {
          handler.handle(e);
        } catch (RuntimeException ex) {
          LOG.error("watch handler for prefix '{}' failed on {}", prefix, e, ex);
        }
      }
    });
  }
}
