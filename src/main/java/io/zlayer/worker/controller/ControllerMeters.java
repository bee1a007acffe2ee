package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodeState;
import io.zlayer.worker.controller.operator.PrometheusMetrics;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/** What the operator listener reads of a controller: its meters, its readiness, a node's recent events. */
final class ControllerMeters {
  /** Events of each log a node page shows. */
  static final int RECENT_EVENTS = 50;
  static final Duration READY_STORE_TIMEOUT = Duration.ofSeconds(2);

  private ControllerMeters() {
  }

  static PrometheusMetrics register(PrometheusMetrics m, ControlPlane cp) {
    m.nodesByState(Arrays.stream(NodeState.values()).map(NodeState::wire).toList(), () -> Metrics.countByState(cp));
    m.counter("zlayer.heartbeats", "status reports received (gRPC and legacy)", cp.nodeService(), s -> s.heartbeats());
    m.counter("zlayer.lease.expiries", "leases that expired (the node was marked unreachable)", cp.nodeService(),
        s -> s.leaseExpiries());
    m.counter("zlayer.tls.resumed", "worker TLS handshakes that resumed a session from a ticket", cp.tickets(),
        t -> t.resumed());
    m.gauge("zlayer.worker.connections", "worker connections holding gRPC streams", cp.streams(), s -> s.connections());
    m.gauge("zlayer.legacy.polls.held", "legacy /worker/poll requests held open", cp.polls(), p -> p.size());
    m.gauge("zlayer.leases.live", "nodes holding a lease on this controller", cp.leases(), l -> l.size());
    m.gauge("zlayer.heartbeat.ttl.seconds", "the heartbeat TTL handed to workers now", cp.leases(), l -> l.currentTtl());
    cp.nodeService().onRegistration(m::registration);
    cp.nodeService().onCommand(m::command);
    cp.store().observeCommits(m::storeCommit);
    return m;
  }

  /** Ready: the endpoint is bound and the store answers within {@link #READY_STORE_TIMEOUT}. */
  static Future<Void> ready(ControlPlane cp, boolean endpointBound) {
    if (!endpointBound) {
      return Future.failedFuture("the worker endpoint is not bound");
    }
    return cp.store().revision().timeout(READY_STORE_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture("the store is not reachable: " + e.getMessage())).mapEmpty();
  }

  /** {@code {assignments: [...], commands: [...]}}: the node's most recent events, oldest first. */
  static Future<JsonObject> events(ControlPlane cp, long nodeId) {
    return cp.assignments().history(nodeId).compose(assignments -> cp.commands().history(nodeId)
        .map(commands -> new JsonObject()
            .put("assignments", recent(assignments, "revision"))
            .put("commands", recent(commands, "id"))));
  }

  private static JsonArray recent(List<NodeEventLog.Entry> entries, String idKey) {
    JsonArray out = new JsonArray();
    for (NodeEventLog.Entry e : entries.subList(Math.max(0, entries.size() - RECENT_EVENTS), entries.size())) {
      out.add(e.body().copy().put(idKey, e.revision()));
    }
    return out;
  }
}
