package io.zlayer.worker.controller.operator;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.controller.core.LeaseDirectory;
import io.zlayer.worker.controller.core.NodeDirectory;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.StatusReport;
import java.time.Instant;
import java.util.Comparator;

/** The operator's view of nodes ({@code bin/worker nodes --json}): record, lease and last report. */
public final class NodeViews {
  private final NodeDirectory nodes;
  private final LeaseDirectory leases;

  public NodeViews(NodeDirectory nodes, LeaseDirectory leases) {
    this.nodes = nodes;
    this.leases = leases;
  }

  JsonArray all() {
    JsonArray out = new JsonArray();
    nodes.all().stream().sorted(Comparator.comparingLong(NodeRecord::nodeId)).forEach(n -> out.add(view(n)));
    return out;
  }

  private JsonObject view(NodeRecord node) {
    JsonObject profile = node.profile();
    JsonObject view = new JsonObject()
        .put("node_id", node.nodeId())
        .put("state", node.state().wire())
        .put("state_cause", node.stateCause())
        .put("state_since", iso(node.stateSince() * 1000))
        .put("os", profile.getString("os"))
        .put("arch", profile.getString("arch"))
        .put("labels", profile.getJsonObject("labels", new JsonObject()))
        .put("api_addr", profile.getString("api_addr"))
        .put("protocol", node.protocol())
        .put("registered_at", iso(node.registeredAt() * 1000))
        .put("cert_not_after", node.certNotAfter() == 0 ? null : iso(node.certNotAfter() * 1000));
    leases.get(node.nodeId()).ifPresent(lease -> view
        .put("last_heartbeat", iso(lease.renewedAtMillis()))
        .put("ttl_secs", lease.ttlSecs())
        .put("lease_expires_at", iso(lease.expiresAtMillis())));
    nodes.lastStatus(node.nodeId()).ifPresent(report -> status(view, report));
    JsonArray commands = new JsonArray();
    nodes.commandResults(node.nodeId()).forEach(r -> commands.add(new JsonObject().put("command_id", r.getCommandId())
        .put("ok", r.getOk()).put("message", r.getMessage())));
    view.put("command_results", commands);
    return view;
  }

  private static void status(JsonObject view, StatusReport report) {
    JsonArray containers = new JsonArray();
    for (ContainerStatus c : report.getContainersList()) {
      containers.add(new JsonObject().put("service", c.getService()).put("role", c.getRole())
          .put("replica", c.getReplica()).put("state", c.getState()).put("pid", c.getPid())
          .put("restarts", c.getRestarts()));
    }
    view.put("containers", containers);
    view.put("resources", new JsonObject()
        .put("cpu_used", report.getResources().getCpuUsed())
        .put("memory_used_bytes", report.getResources().getMemoryUsedBytes())
        .put("gpu_used", report.getResources().getGpuUsed()));
    if (report.getLabelsCount() > 0) {
      view.put("labels", new JsonObject(new java.util.HashMap<>(report.getLabelsMap())));
    }
    if (!report.getState().isEmpty()) {
      view.put("worker_state", report.getState());
    }
  }

  private static String iso(long epochMillis) {
    return Instant.ofEpochMilli(epochMillis).toString();
  }
}
