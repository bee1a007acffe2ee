package io.zlayer.worker.controller.cluster;

import io.vertx.core.Future;
import io.zlayer.worker.controller.core.LeaseDirectory;
import io.zlayer.worker.controller.core.NodeDirectory;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchEvent;
import io.zlayer.worker.store.etcd.EtcdStore;
import java.time.Clock;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which controller holds which node's session, with several controllers on etcd. Heartbeats stay
 * in memory on the controller the worker is connected to; only a change of holder is written:
 * {@code owners/<node_id>} = the controller's node_id, under that controller's etcd lease, so it
 * vanishes when the controller dies or stops. Each controller sweeps only the leases it holds;
 * a controller that sees another take one of its nodes drops its lease. The leader gives every
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
    return etcd.revision().compose(rev -> {
      watch = etcd.watch(PREFIX, rev, this::changed);
      return watch.started();
    }).onSuccess(v -> {
      leases.onHeld(this::held);
      // A controller that lost its etcd lease (and so its ownerships) records them again.
      registry.onRejoined(lease -> leases.heldNodes().forEach(this::held));
      registry.campaign(this::adoptOrphans);
    });
  }

  private void held(long nodeId) {
    etcd.put(PREFIX + nodeId, self, registry.leaseId()).onFailure(e -> {
      LOG.warn("node {}: could not record this controller as its owner: {}", nodeId, e.getMessage());
      leases.release(nodeId); // recorded again at its next heartbeat
      leases.grantFailover(nodeId, clock.millis());
    });
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
      kvs.forEach(kv -> owned.add(Long.parseLong(kv.key().substring(PREFIX.length()))));
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

  public void stop() {
    leases.onHeld(null);
    if (watch != null) {
      watch.cancel();
    }
  }
}
