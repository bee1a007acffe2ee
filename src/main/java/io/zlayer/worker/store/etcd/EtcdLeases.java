package io.zlayer.worker.store.etcd;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.grpc.client.GrpcClientRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseGrantRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseGrpcClient;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseKeepAliveRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseKeepAliveResponse;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseRevokeRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.LeaseTimeToLiveRequest;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * etcd leases: grant, keep alive, revoke. A key put with a lease ({@link EtcdStore#put(String, String, long)})
 * is deleted by etcd when the lease ends, which is how a controller's registration and its
 * ownership of nodes vanish when it dies.
 */
public final class EtcdLeases {
  private static final Logger log = LoggerFactory.getLogger(EtcdLeases.class);

  private final Vertx vertx;
  private final EtcdClient etcd;
  private final List<KeepAlive> alive = new CopyOnWriteArrayList<>();

  EtcdLeases(Vertx vertx, EtcdClient etcd) {
    this.vertx = vertx;
    this.etcd = etcd;
  }

  /** A new lease of {@code ttlSeconds}; returns its id. */
  public Future<Long> grant(long ttlSeconds) {
    return etcd.call(LeaseGrpcClient.LeaseGrant, LeaseGrantRequest.newBuilder().setTTL(ttlSeconds).build())
        .map(r -> r.getID());
  }

  /** Ends the lease now: etcd deletes its keys. */
  public Future<Void> revoke(long leaseId) {
    return etcd.call(LeaseGrpcClient.LeaseRevoke, LeaseRevokeRequest.newBuilder().setID(leaseId).build())
        .mapEmpty();
  }

  /** Seconds the lease has left, or -1 when it has expired or never existed. */
  public Future<Long> timeToLive(long leaseId) {
    return etcd.call(LeaseGrpcClient.LeaseTimeToLive, LeaseTimeToLiveRequest.newBuilder().setID(leaseId).build())
        .map(r -> r.getTTL());
  }

  /**
   * Renews the lease every quarter of {@code ttlSeconds} (so three renewals may be late or lost on
   * a loaded box before it ends) over one keep-alive stream (reopened after
   * an outage) until cancelled, or until etcd says the lease is gone: then {@link KeepAlive#lost()}
   * completes.
   */
  public KeepAlive keepAlive(long leaseId, long ttlSeconds) {
    KeepAlive k = new KeepAlive(leaseId, Math.max(500, ttlSeconds * 1000 / 4));
    alive.add(k);
    k.ctx.runOnContext(v -> k.tick());
    return k;
  }

  Future<Void> close() {
    alive.forEach(KeepAlive::cancel);
    return Future.succeededFuture();
  }

  /** A running keep-alive of one lease. */
  public final class KeepAlive {
    private final long leaseId;
    private final long periodMs;
    private final Context ctx = ((VertxInternal) vertx).createEventLoopContext();
    private final Promise<Void> lost = Promise.promise();
    // Touched on ctx only.
    private GrpcClientRequest<LeaseKeepAliveRequest, LeaseKeepAliveResponse> stream;
    private boolean opening;
    private long timer = -1;
    private volatile boolean cancelled;

    private KeepAlive(long leaseId, long periodMs) {
      this.leaseId = leaseId;
      this.periodMs = periodMs;
    }

    /** Completes when etcd reports the lease expired or revoked. */
    public Future<Void> lost() {
      return lost.future();
    }

    public void cancel() {
      cancelled = true;
      alive.remove(this);
      ctx.runOnContext(v -> {
        vertx.cancelTimer(timer);
        if (stream != null) {
          stream.cancel();
          stream = null;
        }
      });
    }

    private void tick() {
      if (cancelled) {
        return;
      }
      // Set on ctx, the timer fires on ctx: no second trip through its (possibly busy) task queue.
      timer = vertx.setTimer(periodMs, t -> tick());
      if (stream != null) {
        stream.write(LeaseKeepAliveRequest.newBuilder().setID(leaseId).build());
        return;
      }
      if (opening) {
        return;
      }
      opening = true;
      etcd.stream(LeaseGrpcClient.LeaseKeepAlive).onComplete(ar -> {
        opening = false;
        if (ar.failed() || cancelled) {
          if (ar.succeeded()) {
            ar.result().cancel();
          } else {
            log.warn("etcd lease {} keep-alive: {}", Long.toHexString(leaseId), ar.cause().getMessage());
          }
          return;
        }
        var req = ar.result();
        stream = req;
        req.exceptionHandler(e -> dropped(req));
        req.response().onSuccess(resp -> {
          resp.handler(r -> {
            if (r.getTTL() <= 0) {
              log.warn("etcd lease {} is gone", Long.toHexString(leaseId));
              cancel();
              lost.tryComplete();
            }
          });
          resp.exceptionHandler(e -> dropped(req));
          resp.endHandler(v -> dropped(req));
        }).onFailure(e -> dropped(req));
        req.write(LeaseKeepAliveRequest.newBuilder().setID(leaseId).build());
      });
    }

    private void dropped(GrpcClientRequest<LeaseKeepAliveRequest, LeaseKeepAliveResponse> req) {
      if (stream == req) {
        stream = null; // reopened by the next tick
      }
    }
  }
}
