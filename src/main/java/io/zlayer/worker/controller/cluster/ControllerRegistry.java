package io.zlayer.worker.controller.cluster;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.etcd.EtcdLeases;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.v3electionpb.LeaderKey;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controllers of one cluster and which of them leads. On etcd each controller holds
 * {@code controllers/<node_id>} under its own etcd lease (so the entry vanishes when it dies) and
 * campaigns in etcd's election {@code leader}; a node_id already held by a live controller is
 * refused. On the embedded store there is one controller, and it leads.
 */
public final class ControllerRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerRegistry.class);
  static final String PREFIX = "controllers/";
  static final String ELECTION = "leader";
  /**
   * Seconds a dead controller's entry (and leadership, and node ownership) outlives it: the
   * bound on a leader takeover after a crash (target 5 s), renewed every third of it.
   */
  public static final long LEASE_TTL_SECS = 3;

  /** What a controller says about itself. */
  public record Self(long nodeId, String workerAddr, String operatorAddr) {
    JsonObject toJson() {
      return new JsonObject().put("node_id", nodeId).put("worker_addr", workerAddr).put("operator_addr", operatorAddr);
    }
  }

  private final Self self;
  private final EtcdStore etcd;
  private volatile long leaseId;
  private volatile EtcdLeases.KeepAlive keepAlive;
  private volatile Runnable onLeading = () -> { };
  private volatile java.util.function.LongConsumer onRejoined = id -> { };
  private static final long REJOIN_RETRY_MS = 1000;
  private volatile boolean leading;
  private volatile LeaderKey leadership;
  private volatile boolean closed;

  private final io.vertx.core.Vertx vertx;

  private ControllerRegistry(io.vertx.core.Vertx vertx, Self self, EtcdStore etcd, long leaseId, EtcdLeases.KeepAlive keepAlive) {
    this.vertx = vertx;
    this.self = self;
    this.etcd = etcd;
    this.leaseId = leaseId;
    this.keepAlive = keepAlive;
    this.leading = etcd == null;
  }

  /**
   * Registers this controller: on etcd, under a new lease, refusing a node_id a live controller
   * holds. Leadership is then sought with {@link #campaign}.
   */
  public static Future<ControllerRegistry> join(io.vertx.core.Vertx vertx, Store store, Self self) {
    if (!(store instanceof EtcdStore etcd)) {
      return Future.succeededFuture(new ControllerRegistry(vertx, self, null, 0, null));
    }
    String key = PREFIX + self.nodeId();
    return etcd.leases().grant(LEASE_TTL_SECS).compose(lease -> etcd.txn(List.of(Compare.absent(key)),
            List.of(Op.put(key, self.toJson().encode())), lease)
        .compose(result -> {
          if (result.succeeded()) {
            ControllerRegistry r = new ControllerRegistry(vertx, self, etcd, lease, etcd.leases().keepAlive(lease, LEASE_TTL_SECS));
            r.watchLease();
            LOG.info("controller {} registered in etcd (lease {})", self.nodeId(), Long.toHexString(lease));
            return Future.succeededFuture(r);
          }
          return etcd.leases().revoke(lease).otherwiseEmpty().compose(v -> etcd.get(key)).compose(held ->
              Future.failedFuture(new ClusterRefusal(
                  "node_id " + self.nodeId() + " is held by a live controller ("
                  + held.map(kv -> new JsonObject(kv.value()).encode()).orElse("that just left") + "); give each "
                  + "controller its own node_id in its config (or wait " + LEASE_TTL_SECS
                  + " s after a controller with this node_id died)")));
        }));
  }

  private void watchLease() {
    keepAlive.lost().onSuccess(v -> {
      if (!closed) {
        leading = false;
        leadership = null;
        LOG.error("controller {}: its etcd lease ended (etcd unreachable too long?); it no longer leads; registering again",
            self.nodeId());
        rejoin();
      }
    });
  }

  /** After the lease ended: a new lease, the entry again, the ownerships again, a new campaign. */
  private void rejoin() {
    if (closed) {
      return;
    }
    String key = PREFIX + self.nodeId();
    etcd.leases().grant(LEASE_TTL_SECS).compose(lease -> etcd.txn(List.of(Compare.absent(key)),
        List.of(Op.put(key, self.toJson().encode())), lease).compose(r -> {
          if (!r.succeeded()) {
            return etcd.leases().revoke(lease).otherwiseEmpty().compose(v -> Future.<Long>failedFuture(
                new ClusterRefusal("node_id " + self.nodeId() + " is held by another live controller")));
          }
          return Future.succeededFuture(lease);
        })).onSuccess(lease -> {
          if (closed) {
            etcd.leases().revoke(lease);
            return;
          }
          leaseId = lease;
          keepAlive = etcd.leases().keepAlive(lease, LEASE_TTL_SECS);
          watchLease();
          LOG.info("controller {} registered in etcd again (lease {})", self.nodeId(), Long.toHexString(lease));
          onRejoined.accept(lease);
          campaign(onLeading);
        }).onFailure(e -> {
          LOG.warn("controller {}: registering again failed ({}); retrying in {} ms", self.nodeId(), e.getMessage(),
              REJOIN_RETRY_MS);
          vertx.setTimer(REJOIN_RETRY_MS, t -> rejoin());
        });
  }

  /** Told the new lease when this controller registered again after losing its lease. */
  public void onRejoined(java.util.function.LongConsumer listener) {
    onRejoined = listener;
  }

  /**
   * Campaigns for leadership in the background (etcd's election waits until the current leader's
   * lease ends or it resigns); {@code onLeading} runs once this controller leads.
   */
  public void campaign(Runnable onLeading) {
    this.onLeading = onLeading;
    if (etcd == null) {
      onLeading.run();
      return;
    }
    etcd.election().campaign(ELECTION, leaseId, Long.toString(self.nodeId())).onComplete(ar -> {
      if (ar.succeeded() && !closed) {
        leadership = ar.result();
        leading = true;
        LOG.info("controller {} leads", self.nodeId());
        onLeading.run();
      } else if (ar.failed() && !closed) {
        LOG.warn("controller {}: campaign failed ({}); campaigning again", self.nodeId(), ar.cause().getMessage());
        long lease = leaseId;
        etcd.leases().timeToLive(lease).onSuccess(ttl -> {
          if (ttl > 0 && !closed && lease == leaseId) {
            campaign(onLeading);
          }
        });
      }
    });
  }

  private volatile io.zlayer.worker.store.Watch membersWatch;

  /**
   * Follows which controllers are live: {@code listener} hears their node_ids (this one's among
   * them) at once and at every change. On the embedded store: this one alone, once.
   */
  public Future<Void> followMembers(java.util.function.Consumer<java.util.Set<Long>> listener) {
    if (etcd == null) {
      listener.accept(java.util.Set.of(self.nodeId()));
      return Future.succeededFuture();
    }
    java.util.function.Consumer<java.util.Set<Long>> tell = now -> {
      members = now;
      listener.accept(now);
      onMembers.accept(now);
    };
    java.util.Set<Long> live = new java.util.concurrent.ConcurrentSkipListSet<>();
    live.add(self.nodeId());
    return etcd.revision().compose(rev -> etcd.range(PREFIX).compose(kvs -> {
      kvs.forEach(kv -> memberId(kv.key()).ifPresent(live::add));
      tell.accept(java.util.Set.copyOf(live));
      membersWatch = etcd.watch(PREFIX, rev, event -> memberId(event.kv().key()).ifPresent(id -> {
        boolean changed = event.type() == io.zlayer.worker.store.WatchEvent.Type.DELETE
            ? id != self.nodeId() && live.remove(id) : live.add(id);
        if (changed) {
          tell.accept(java.util.Set.copyOf(live));
        }
      }));
      return membersWatch.started();
    }));
  }

  private java.util.Optional<Long> memberId(String key) {
    String k = key.startsWith(etcd.prefix()) ? key.substring(etcd.prefix().length()) : key;
    if (!k.startsWith(PREFIX)) {
      return java.util.Optional.empty();
    }
    try {
      return java.util.Optional.of(Long.parseLong(k.substring(PREFIX.length())));
    } catch (NumberFormatException e) {
      return java.util.Optional.empty();
    }
  }

  io.vertx.core.Vertx vertx() {
    return vertx;
  }

  private volatile java.util.function.Consumer<java.util.Set<Long>> onMembers = live -> { };
  private volatile java.util.Set<Long> members = java.util.Set.of();

  /** Also told the live controllers at every change (the ownership: a crashed owner's nodes are orphans). */
  public void onMembers(java.util.function.Consumer<java.util.Set<Long>> listener) {
    onMembers = listener;
    listener.accept(members);
  }

  public Self self() {
    return self;
  }

  /** Whether this controller leads (sweeps orphaned nodes). */
  public boolean leading() {
    return leading;
  }

  /** Every live controller, by node_id, with {@code leader} and {@code self} flags. */
  public Future<JsonArray> list() {
    if (etcd == null) {
      return Future.succeededFuture(new JsonArray().add(self.toJson().put("leader", true).put("self", true)));
    }
    return etcd.election().leader(ELECTION).compose(leader -> etcd.range(PREFIX).map(kvs -> {
      JsonArray out = new JsonArray();
      for (KeyValue kv : kvs) {
        JsonObject c = new JsonObject(kv.value());
        String id = Long.toString(c.getLong("node_id"));
        out.add(c.put("leader", leader.map(id::equals).orElse(false)).put("self", c.getLong("node_id") == self.nodeId()));
      }
      return out;
    }));
  }

  /**
   * Stops renewing the lease without resigning or revoking it, as a controller killed with -9
   * does: its entry, leadership and ownerships end when etcd expires the lease (tests).
   */
  public void abandon() {
    abandoned = true;
    closed = true;
    stopFollowing();
    leading = false;
    if (keepAlive != null) {
      keepAlive.cancel();
    }
  }

  private volatile boolean abandoned;

  /** Whether {@link #abandon} was called: then nothing this controller put under a lease is revoked. */
  public boolean abandoned() {
    return abandoned;
  }

  /** Resigns and revokes the lease: the entry goes at once and another controller leads. */
  public Future<Void> close() {
    if (etcd == null || closed) {
      return Future.succeededFuture();
    }
    closed = true;
    leading = false;
    stopFollowing();
    keepAlive.cancel();
    LeaderKey held = leadership;
    Future<Void> resign = held == null ? Future.succeededFuture() : etcd.election().resign(held).otherwiseEmpty();
    return resign.compose(v -> etcd.leases().revoke(leaseId)).otherwiseEmpty();
  }

  private void stopFollowing() {
    io.zlayer.worker.store.Watch w = membersWatch;
    if (w != null) {
      w.cancel();
    }
  }

  /** The lease of this controller's entry (0 on the embedded store): keys put under it vanish with it. */
  public long leaseId() {
    return leaseId;
  }
}
