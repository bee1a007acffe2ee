package io.zlayer.worker.controller.cluster;

import io.vertx.core.Future;
import io.zlayer.worker.controller.core.LeaseDirectory;
import io.zlayer.worker.controller.core.NodeDirectory;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchEvent;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.Op;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which controller holds which node's session, with several controllers on etcd. Heartbeats stay
 * in memory on the controller the worker is connected to; only a change of holder is written:
 * {@code owners/<node_id>} = the controller's node_id, under an ownership lease of that controller
 * ({@link #OWNERSHIP_TTL_SECS}, longer than its registration's, so a loaded controller does not lose
 * its nodes to a late renewal; re-granted, and every held node recorded again, if it ends anyway),
 * so it vanishes when the controller dies or stops. The leader also treats the nodes of an owner
 * that is no longer a live controller (its registration ended: at most
 * {@link ControllerRegistry#LEASE_TTL_SECS} after a crash) as orphans. Each controller sweeps
 * only the leases it holds; a controller that sees another take one of its nodes drops its lease. The leader gives every
 * live node with no owner (its controller gone, or a cold start) the failover TTL and sweeps it
 * if nobody takes it: nobody is marked unreachable for a controller's death or a leader change.
 */
public final class NodeOwnership {
  private static final Logger LOG = LoggerFactory.getLogger(NodeOwnership.class);
  static final String PREFIX = "owners/";

  private final EtcdStore etcd;
  private final ControllerRegistry registry;
  private final LeaseDirectory leases;
  private final NodeDirectory nodes;
  private final Clock clock;
  private final String self;
  private Watch watch;
  /** Seconds the ownership lease outlives a controller that stopped renewing it. */
  public static final long OWNERSHIP_TTL_SECS = 15;
  private static final long REGRANT_RETRY_MS = 1000;
  /** Nodes recorded in one txn: etcd refuses a txn of more than 128 ops by default (--max-txn-ops). */
  static final int BATCH = 100;
  /** How long a newly held node waits for others to share its txn. */
  static final long BATCH_DELAY_MS = 20;
  /** How long a controller that left must stay away before its nodes are the leader's orphans. */
  static final long ADOPT_GRACE_MS = 2 * ControllerRegistry.LEASE_TTL_SECS * 1000;
  private final Set<Long> pending = new LinkedHashSet<>();
  private static final long RETRY_MIN_MS = 500;
  private static final long RETRY_MAX_MS = 10_000;
  private volatile long retryDelayMs;
  private boolean flushScheduled; // guarded by pending
  private volatile long ownershipLease;
  private volatile io.vertx.core.Future<Long> granting;
  private volatile io.zlayer.worker.store.etcd.EtcdLeases.KeepAlive keepAlive;
  private volatile boolean stopped;
  private volatile Set<Long> liveControllers = Set.of();

  public NodeOwnership(EtcdStore etcd, ControllerRegistry registry, LeaseDirectory leases, NodeDirectory nodes, Clock clock) {
    this.etcd = etcd;
    this.registry = registry;
    this.leases = leases;
    this.nodes = nodes;
    this.clock = clock;
    this.self = Long.toString(registry.self().nodeId());
  }

  /** Follows ownership changes, records the nodes whose heartbeats land here, then campaigns. */
  public Future<Void> start() {
    return lease().compose(l -> etcd.revision()).compose(rev -> {
      watch = etcd.watch(PREFIX, rev, this::changed);
      return watch.started();
    }).onSuccess(v -> {
      leases.onHeld(this::held);
      // A controller that lost its etcd lease (and so its ownerships) records them again.
      registry.onRejoined(lease -> leases.heldNodes().forEach(this::held));
      registry.onMembers(this::membersChanged);
      registry.campaign(this::adoptOrphans);
    });
  }

  /** The ownership lease, granted (again, once at a time) when there is none. */
  private Future<Long> lease() {
    io.vertx.core.Promise<Long> promise;
    synchronized (this) {
      if (ownershipLease != 0) {
        return Future.succeededFuture(ownershipLease);
      }
      if (granting != null) {
        return granting;
      }
      promise = io.vertx.core.Promise.promise();
      granting = promise.future();
    }
    etcd.leases().grant(OWNERSHIP_TTL_SECS).onComplete(ar -> {
      synchronized (this) {
        granting = null;
        if (ar.succeeded() && !stopped) {
          long lease = ar.result();
          ownershipLease = lease;
          io.zlayer.worker.store.etcd.EtcdLeases.KeepAlive k = etcd.leases().keepAlive(lease, OWNERSHIP_TTL_SECS);
          keepAlive = k;
          k.lost().onSuccess(v -> lost(lease));
        }
      }
      if (ar.succeeded() && stopped) {
        etcd.leases().revoke(ar.result());
      }
      promise.handle(ar);
    });
    return promise.future();
  }

  /** The ownership lease ended (etcd unreachable longer than its TTL): a new one, every held node again. */
  private void lost(long lease) {
    if (stopped || ownershipLease != lease) {
      return;
    }
    ownershipLease = 0;
    LOG.error("controller {}: its node-ownership lease ended (etcd unreachable or this controller stalled for {} s); "
        + "recording its {} node(s) again under a new lease", self, OWNERSHIP_TTL_SECS, leases.heldNodes().size());
    lease().onSuccess(l -> leases.heldNodes().forEach(this::held)).onFailure(e -> {
      LOG.warn("controller {}: no new ownership lease yet ({}); retrying in {} ms", self, e.getMessage(), REGRANT_RETRY_MS);
      registry.vertx().setTimer(REGRANT_RETRY_MS, t -> lost(0));
    });
  }

  /**
   * A node's heartbeats started landing here: its ownership is recorded with the others that
   * arrive within {@link #BATCH_DELAY_MS}, up to {@link #BATCH} in one etcd txn. A registration or
   * reconnect storm of thousands of nodes a second is then a few txns a second, not one per node
   * (etcd on this box applies ~6,000 txns a second in all, and the storm shares it with the
   * registrations themselves).
   */
  private void held(long nodeId) {
    boolean schedule;
    synchronized (pending) {
      pending.add(nodeId);
      schedule = !flushScheduled;
      flushScheduled = true;
    }
    if (schedule) {
      registry.vertx().setTimer(BATCH_DELAY_MS, t -> flush());
    }
  }

  private void flush() {
    if (stopped) {
      return;
    }
    List<Long> batch = new ArrayList<>(BATCH);
    boolean more;
    synchronized (pending) {
      Iterator<Long> it = pending.iterator();
      while (it.hasNext() && batch.size() < BATCH) {
        batch.add(it.next());
        it.remove();
      }
      more = !pending.isEmpty();
      flushScheduled = more;
    }
    if (more) {
      registry.vertx().runOnContext(v -> flush());
    }
    if (batch.isEmpty()) {
      return;
    }
    List<Op> ops = new ArrayList<>(batch.size());
    for (long nodeId : batch) {
      ops.add(Op.put(PREFIX + nodeId, self));
    }
    lease().compose(lease -> etcd.txn(List.of(), ops, lease).onFailure(e -> {
      if (String.valueOf(e.getMessage()).contains("lease not found") && ownershipLease == lease) {
        lost(lease); // expired before etcd told the keep-alive
      }
    })).onSuccess(r -> retryDelayMs = 0).onFailure(e -> {
      // Tried again until it is recorded (or the node left): a node whose ownership is missing is an
      // orphan to the leader, and the node keeps its lease here as it is (it may next report only a
      // TTL from now: up to 600 s with a large fleet, longer than a failover lease).
      long delay = retryDelayMs = retryDelayMs == 0 ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, 2 * retryDelayMs);
      LOG.warn("{} node(s) (first {}): could not record this controller as their owner: {}; again in {} ms",
          batch.size(), batch.get(0), e.getMessage(), delay);
      registry.vertx().setTimer(delay, t -> batch.stream().filter(leases::holds).forEach(this::held));
    });
  }

  /**
   * The live controllers changed: when leading, the nodes of one that left are orphans, once it has
   * stayed away for {@link #ADOPT_GRACE_MS}. A controller whose registration lapsed on a loaded box
   * (etcd answering late) is usually back within a second or two, still holding its nodes; adopting
   * them at once gave thousands of nodes a second lease on the leader (and every return, a
   * re-recording of all of them). A crashed controller's nodes are adopted after the grace, or when
   * its ownership keys expire, whichever comes first.
   */
  private void membersChanged(Set<Long> live) {
    Set<Long> before = liveControllers;
    liveControllers = live;
    if (registry.leading() && !before.isEmpty() && !live.containsAll(before)) {
      Set<Long> gone = new HashSet<>(before);
      gone.removeAll(live);
      registry.vertx().setTimer(ADOPT_GRACE_MS, t -> {
        if (!stopped && registry.leading() && !liveControllers.containsAll(gone)) {
          adoptOrphans();
        }
      });
    }
  }

  private void changed(WatchEvent event) {
    KeyValue kv = event.kv();
    long nodeId;
    try {
      nodeId = Long.parseLong(kv.key().substring(PREFIX.length()));
    } catch (NumberFormatException e) {
      return;
    }
    if (event.type() == WatchEvent.Type.PUT) {
      if (!self.equals(kv.value()) && leases.get(nodeId).isPresent()) {
        leases.release(nodeId); // another controller holds it now: it sweeps it
      }
    } else if (registry.leading() && !leases.holds(nodeId)) {
      nodes.get(nodeId).filter(n -> n.state().leased()).ifPresent(n -> {
        leases.grantFailover(nodeId, clock.millis());
        LOG.debug("node {} lost its controller: failover TTL {}s to reconnect elsewhere", nodeId,
            leases.ttl().failoverTtlSecs());
      });
    }
  }

  /** On becoming leader: every live node that no controller holds gets the failover TTL here. */
  private void adoptOrphans() {
    etcd.range(PREFIX).onSuccess(kvs -> {
      Set<Long> owned = new HashSet<>();
      Set<Long> live = liveControllers;
      for (KeyValue kv : kvs) {
        try {
          // An owner that is no longer a live controller (crashed): its ownership lease outlives it.
          if (live.isEmpty() || live.contains(Long.parseLong(kv.value()))) {
            owned.add(Long.parseLong(kv.key().substring(PREFIX.length())));
          }
        } catch (NumberFormatException e) {
          // not a node's owner entry
        }
      }
      long now = clock.millis();
      int adopted = 0;
      for (NodeRecord n : nodes.all()) {
        if (n.state().leased() && !owned.contains(n.nodeId()) && leases.get(n.nodeId()).isEmpty()) {
          leases.grantFailover(n.nodeId(), now);
          adopted++;
        }
      }
      if (adopted > 0) {
        LOG.info("leader: gave {} node(s) with no controller the failover TTL of {}s", adopted,
            leases.ttl().failoverTtlSecs());
      }
    }).onFailure(e -> LOG.warn("leader: could not read node owners: {}", e.getMessage()));
  }

  /** The ownership lease (0 before it is granted, or while it is granted again): owners/ keys are put under it. */
  public long leaseId() {
    return ownershipLease;
  }

  /** Stops following and revokes the ownership lease: the leader adopts this controller's nodes at once. */
  public Future<Void> stop() {
    stopped = true;
    leases.onHeld(null);
    if (watch != null) {
      watch.cancel();
    }
    io.zlayer.worker.store.etcd.EtcdLeases.KeepAlive k = keepAlive;
    if (k != null) {
      k.cancel();
    }
    long lease = ownershipLease;
    if (lease == 0 || registry.abandoned()) {
      return Future.succeededFuture(); // abandoned, as kill -9: etcd expires the lease
    }
    return etcd.leases().revoke(lease).otherwiseEmpty();
  }
}
