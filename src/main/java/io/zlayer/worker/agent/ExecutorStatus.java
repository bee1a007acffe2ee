package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerResourceUsage;

/**
 * What the node reports: the executor's snapshot (asked over {@link Addresses#WORKER_EXECUTOR_SNAPSHOT},
 * which an external executor may answer over the bridge), the host's usage when the executor does
 * not give it, and the current labels. An executor that does not answer gets its last snapshot
 * sent again; the session bounds how long one may take.
 */
final class ExecutorStatus {
  private final Vertx vertx;
  private final AgentContext ctx;
  private JsonObject last = new JsonObject();

  ExecutorStatus(Vertx vertx, AgentContext ctx) {
    this.vertx = vertx;
    this.ctx = ctx;
  }

  Future<StatusReport> snapshot() {
    return vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_SNAPSHOT, new JsonObject())
        .map(msg -> last = msg.body())
        .otherwise(e -> last)
        .compose(snapshot -> snapshot.containsKey("resources") ? Future.succeededFuture(snapshot)
            : vertx.executeBlocking(() -> snapshot.copy().put("resources", SystemProfile.usageJson()), false))
        .map(this::toReport);
  }

  private StatusReport toReport(JsonObject snapshot) {
    StatusReport.Builder report = StatusReport.newBuilder().setState(snapshot.getString("state", "ready"));
    for (Object o : snapshot.getJsonArray("containers", new JsonArray())) {
      JsonObject c = (JsonObject) o;
      report.addContainers(ContainerStatus.newBuilder()
          .setService(c.getString("service", ""))
          .setRole(c.getString("role", ""))
          .setReplica(c.getInteger("replica", 0))
          .setState(c.getString("state", ""))
          .setPid(c.getLong("pid", 0L))
          .setRestarts(c.getInteger("restarts", 0)));
    }
    JsonObject resources = snapshot.getJsonObject("resources", new JsonObject());
    report.setResources(WorkerResourceUsage.newBuilder()
        .setCpuUsed(resources.getDouble("cpu_used", 0.0))
        .setMemoryUsedBytes(resources.getLong("memory_used_bytes", 0L))
        .setGpuUsed(resources.getInteger("gpu_used", 0)));
    report.putAllLabels(ctx.labels());
    return report.build();
  }
}
