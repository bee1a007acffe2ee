package io.zlayer.worker.store.etcd;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.grpc.client.GrpcClientRequest;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.StoreUnavailableException;
import io.zlayer.worker.store.WatchEvent;
import io.zlayer.worker.store.etcd.etcdserverpb.WatchCancelRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.WatchCreateRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.WatchGrpcClient;
import io.zlayer.worker.store.etcd.etcdserverpb.WatchRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.WatchResponse;
import io.zlayer.worker.store.etcd.mvccpb.Event;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every watch of one {@link EtcdStore}, multiplexed on one etcd Watch stream (as etcd's own client
 * does) with client-chosen watch ids. It owns the stream's life: it reconnects after an outage
 * and re-creates each watch from the revision after its last delivered event, and it turns a
 * compacted start revision into a range and a new watch. All of its state lives on one event-loop
 * context of its own; events reach each watcher on the context that called watch().
 */
final class EtcdWatchHub {
  private static final Logger log = LoggerFactory.getLogger(EtcdWatchHub.class);
  static final long RECONNECT_MIN_MS = 100;
  static final long RECONNECT_MAX_MS = 2_000;

  private final Vertx vertx;
  private final Context ctx;
  private final EtcdClient etcd;
  private final EtcdStore store;
  // The fields below are touched only on ctx.
  private final Map<Long, EtcdWatch> byId = new HashMap<>();
  // a set: a reconnect storm cancels and adds thousands of watches (a list made each cancel O(n))
  private final java.util.Set<EtcdWatch> all = new java.util.LinkedHashSet<>();
  private long nextId = 1;
  private GrpcClientRequest<WatchRequest, WatchResponse> stream;
  private boolean connecting;
  private long backoffMs = RECONNECT_MIN_MS;
  private boolean outageLogged;
  private boolean closed;

  EtcdWatchHub(Vertx vertx, EtcdClient etcd, EtcdStore store) {
    this.vertx = vertx;
    this.ctx = ((VertxInternal) vertx).createEventLoopContext();
    this.etcd = etcd;
    this.store = store;
  }

  EtcdWatch watch(String prefix, long afterRevision, Handler<WatchEvent> handler) {
    EtcdWatch w = new EtcdWatch(this, prefix, afterRevision, vertx.getOrCreateContext(), handler);
    ctx.runOnContext(v -> {
      if (closed) {
        w.started.tryFail(new IllegalStateException("store is closed"));
        return;
      }
      if (w.cancelled) {
        return;
      }
      all.add(w);
      if (stream != null) {
        create(w);
      } else {
        connect();
      }
    });
    return w;
  }

  void cancel(EtcdWatch w) {
    ctx.runOnContext(v -> {
      all.remove(w);
      if (byId.remove(w.id) != null && stream != null) {
        stream.write(WatchRequest.newBuilder()
            .setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(w.id)).build());
      }
    });
  }

  Future<Void> close() {
    Promise<Void> done = Promise.promise();
    ctx.runOnContext(v -> {
      closed = true;
      new ArrayList<>(all).forEach(w -> w.started.tryFail(new IllegalStateException("store is closed")));
      all.clear();
      byId.clear();
      if (stream != null) {
        stream.cancel();
        stream = null;
      }
      done.complete();
    });
    return done.future();
  }

  // ---------------------------------------------------------------- the stream (on ctx)

  private void connect() {
    if (connecting || stream != null || closed) {
      return;
    }
    connecting = true;
    etcd.stream(WatchGrpcClient.Watch).onComplete(ar -> {
      connecting = false;
      if (ar.failed()) {
        lost(null, ar.cause());
        return;
      }
      GrpcClientRequest<WatchRequest, WatchResponse> req = ar.result();
      if (closed) {
        req.cancel();
        return;
      }
      stream = req;
      req.exceptionHandler(e -> lost(req, e));
      req.response().onSuccess(resp -> {
        // Handlers attached here, on the event loop, before any message is dispatched.
        resp.handler(r -> onResponse(req, r));
        resp.exceptionHandler(e -> lost(req, e));
        resp.endHandler(v -> lost(req, new IllegalStateException("etcd ended the watch stream ("
            + resp.status() + (resp.statusMessage() == null ? "" : ": " + resp.statusMessage()) + ")")));
      }).onFailure(e -> lost(req, e));
      new ArrayList<>(all).forEach(this::create);
    });
  }

  private void create(EtcdWatch w) {
    byId.remove(w.id);
    w.id = nextId++;
    byId.put(w.id, w);
    var from = store.full(w.prefix);
    stream.write(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
        .setKey(from).setRangeEnd(EtcdStore.rangeEnd(from))
        .setStartRevision(w.lastRevision + 1).setWatchId(w.id)).build());
  }

  private void onResponse(GrpcClientRequest<WatchRequest, WatchResponse> req, WatchResponse r) {
    if (req != stream) {
      return;
    }
    if (outageLogged) {
      log.info("etcd watch stream to {} is back; {} watch(es) resumed", etcd.endpoint(), all.size());
      outageLogged = false;
    }
    backoffMs = RECONNECT_MIN_MS;
    EtcdWatch w = byId.get(r.getWatchId());
    if (w == null) {
      return; // cancelled, or replaced by a newer create
    }
    if (r.getCreated()) {
      w.started.tryComplete();
    }
    if (r.getCanceled()) {
      byId.remove(w.id);
      if (r.getCompactRevision() > 0) {
        resync(w, r.getCompactRevision());
      } else {
        log.warn("etcd cancelled the watch on '{}' ({}); watching again", w.prefix, r.getCancelReason());
        vertx.setTimer(backoffMs, t -> ctx.runOnContext(v -> recreate(w)));
      }
      return;
    }
    if (r.getEventsCount() > 0) {
      List<WatchEvent> events = new ArrayList<>(r.getEventsCount());
      for (Event e : r.getEventsList()) {
        if (e.getKv().getModRevision() > w.lastRevision) {
          events.add(toEvent(e));
        }
      }
      if (!events.isEmpty()) {
        w.lastRevision = events.get(events.size() - 1).kv().modRevision();
        w.deliver(events);
      }
    }
  }

  /**
   * The watch's next revision was compacted away: read the prefix now, hand over the keys
   * changed since the last delivered event as PUTs, and watch again from after that read.
   */
  private void resync(EtcdWatch w, long compactRevision) {
    log.info("watch on '{}' resumes past compacted revision {} (last delivered {}): range, then watch",
        w.prefix, compactRevision, w.lastRevision);
    store.rangePrefix(w.prefix).onComplete(ar -> ctx.runOnContext(v -> {
      if (!all.contains(w)) {
        return;
      }
      if (ar.failed()) {
        vertx.setTimer(backoffMs, t -> ctx.runOnContext(x -> recreate(w)));
        return;
      }
      List<WatchEvent> events = new ArrayList<>();
      ar.result().getKvsList().stream()
          .filter(kv -> kv.getModRevision() > w.lastRevision)
          .sorted(Comparator.comparingLong(io.zlayer.worker.store.etcd.mvccpb.KeyValue::getModRevision)
              .thenComparing(kv -> kv.getKey().toStringUtf8()))
          .forEach(kv -> events.add(new WatchEvent(WatchEvent.Type.PUT, store.toKv(kv))));
      w.lastRevision = Math.max(w.lastRevision, ar.result().getHeader().getRevision());
      if (!events.isEmpty()) {
        w.deliver(events);
      }
      recreate(w);
    }));
  }

  private void recreate(EtcdWatch w) {
    if (!all.contains(w) || closed) {
      return;
    }
    if (stream != null) {
      create(w);
    } else {
      connect();
    }
  }

  private void lost(GrpcClientRequest<WatchRequest, WatchResponse> req, Throwable cause) {
    if (req != null && req != stream) {
      return;
    }
    if (req != null) {
      req.cancel();
    }
    stream = null;
    byId.clear();
    if (closed) {
      return;
    }
    RuntimeException typed = cause instanceof StoreUnavailableException su ? su
        : etcd.streamFailure(WatchGrpcClient.Watch, cause);
    // A watch that never started fails now: its caller must not wait on a silent watch.
    for (EtcdWatch w : new ArrayList<>(all)) {
      if (w.started.tryFail(typed)) {
        all.remove(w);
      }
    }
    if (all.isEmpty()) {
      return;
    }
    if (!outageLogged) {
      log.warn("etcd watch stream lost ({}); {} watch(es) resume when etcd is back", typed.getMessage(), all.size());
      outageLogged = true;
    }
    long delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, RECONNECT_MAX_MS);
    vertx.setTimer(delay, t -> ctx.runOnContext(v -> connect()));
  }

  private WatchEvent toEvent(Event e) {
    if (e.getType() == Event.EventType.DELETE) {
      KeyValue kv = new KeyValue(e.getKv().getKey().toStringUtf8().substring(store.prefix().length()), null, 0,
          e.getKv().getModRevision(), 0);
      return new WatchEvent(WatchEvent.Type.DELETE, kv);
    }
    return new WatchEvent(WatchEvent.Type.PUT, store.toKv(e.getKv()));
  }
}
