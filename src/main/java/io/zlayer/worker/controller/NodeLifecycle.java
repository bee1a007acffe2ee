package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.proto.StatusReport;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every change of a node's state, in one place: heartbeats (renew the lease, bring an
 * unreachable node back), expiry, drain, deregistration, revocation and certificate rotation.
 * Each change is stored, logged once and published on {@link Addresses#NODE_STATE_CHANGED}.
 * Used by the gRPC service, the legacy HTTP API, the sweeper and the operator tools alike.
 */
public final class NodeLifecycle {
  private static final Logger LOG = LoggerFactory.getLogger(NodeLifecycle.class);

  private final Vertx vertx;
  private final NodeDirectory nodes;
  private final LeaseDirectory leases;
  private final Clock clock;
  private final OpenStreams streams = new OpenStreams();
  private final java.util.concurrent.atomic.LongAdder heartbeats = new java.util.concurrent.atomic.LongAdder();

  public NodeLifecycle(Vertx vertx, NodeDirectory nodes, LeaseDirectory leases, Clock clock) {
    this.vertx = vertx;
    this.nodes = nodes;
    this.leases = leases;
    this.clock = clock;
  }

  OpenStreams streams() {
    return streams;
  }

  /** Gives every live node the failover TTL: after a (re)start nobody expires while workers reconnect. */
  public void grantFailoverLeases() {
    long now = clock.millis();
    int granted = 0;
    for (NodeRecord node : nodes.all()) {
      if (node.state() == NodeState.READY || node.state() == NodeState.DRAINING) {
        leases.grantFailover(node.nodeId(), now);
        granted++;
      }
    }
    if (granted > 0) {
      LOG.info("gave {} live node(s) the failover TTL of {}s", granted, leases.ttl().failoverTtlSecs());
    }
  }

  /** A status report arrived: renew the lease and return the next TTL. */
  /** Status reports received since start. */
  public long heartbeats() {
    return heartbeats.sum();
  }

  public int heartbeat(long nodeId, StatusReport report) {
    NodeRecord node = nodes.get(nodeId).orElseThrow(() ->
        ControlPlaneException.notFound("node " + nodeId + " is not registered"));
    if (!node.state().live()) {
      // A late report from a node that left or was revoked renews nothing.
      throw ControlPlaneException.unauthenticated("node " + nodeId + " is " + node.state().wire());
    }
    heartbeats.increment();
    int ttl = leases.renew(nodeId, clock.millis());
    nodes.recordStatus(nodeId, report);
    for (var result : report.getCommandResultsList()) {
      LOG.info("node {} command {} {}: {}", nodeId, result.getCommandId(),
          result.getOk() ? "applied" : "refused", result.getMessage());
    }
    if (node.state() == NodeState.UNREACHABLE) {
      // Back from silence: a node that was draining (its executor says so) stays draining.
      boolean draining = "draining".equals(report.getState());
      transition(nodeId, draining ? NodeState.DRAINING : NodeState.READY, "heartbeat resumed");
    }
    return ttl;
  }

  /** Marks nodes whose lease expired unreachable; returns them. */
  public List<Lease> sweep() {
    List<Lease> expired = leases.takeExpired(clock.millis());
    for (Lease lease : expired) {
      nodes.get(lease.nodeId()).filter(n -> n.state().live() && n.state() != NodeState.UNREACHABLE)
          .ifPresent(n -> transition(n.nodeId(), NodeState.UNREACHABLE, "lease expired: no heartbeat for "
              + (lease.ttlSecs() + lease.graceSecs()) + "s (ttl " + lease.ttlSecs() + "s + grace "
              + lease.graceSecs() + "s)"));
    }
    return expired;
  }

  public Future<NodeRecord> drain(long nodeId) {
    return require(nodeId).compose(n -> transition(nodeId, NodeState.DRAINING, "drain requested"));
  }

  public Future<NodeRecord> deregister(long nodeId, String reason) {
    leases.remove(nodeId);
    return transition(nodeId, NodeState.DEREGISTERED,
        "deregistered" + (reason == null || reason.isBlank() ? "" : ": " + reason));
  }

  /** Quarantines the node, refuses its certificate from now on and cuts its open streams. */
  public Future<NodeRecord> revoke(long nodeId) {
    return require(nodeId).compose(n -> {
      leases.remove(nodeId);
      return transition(nodeId, NodeState.QUARANTINED, "certificate " + n.certSha256() + " revoked");
    }).onSuccess(n -> {
      streams.cut(nodeId);
      vertx.eventBus().publish(Addresses.NODE_REVOKED, new JsonObject().put("node_id", nodeId));
    });
  }

  public Future<NodeRecord> replaceCertificate(long nodeId, String serial, String sha256, long notAfter) {
    return require(nodeId).compose(n -> nodes.update(nodeId, current -> current.withCertificate(serial, sha256, notAfter)))
        .onSuccess(n -> LOG.info("node {} rotated its certificate (valid until epoch {})", nodeId, notAfter));
  }

  private Future<NodeRecord> require(long nodeId) {
    return nodes.get(nodeId).map(Future::succeededFuture).orElseGet(() -> Future.failedFuture(
        ControlPlaneException.notFound("node " + nodeId + " is not registered")));
  }

  private Future<NodeRecord> transition(long nodeId, NodeState state, String cause) {
    NodeState before = nodes.get(nodeId).map(NodeRecord::state).orElse(null);
    return nodes.setState(nodeId, state, cause).onSuccess(n -> {
      if (before != state) {
        if (state == NodeState.UNREACHABLE) {
          LOG.warn("node {} is unreachable: {}", nodeId, cause);
        } else {
          LOG.info("node {} is {}: {}", nodeId, state.wire(), cause);
        }
        vertx.eventBus().publish(Addresses.NODE_STATE_CHANGED, new JsonObject().put("node_id", nodeId)
            .put("state", state.wire()).put("cause", cause));
      }
    });
  }
}
