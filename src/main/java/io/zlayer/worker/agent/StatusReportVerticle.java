package io.zlayer.worker.agent;

import com.google.protobuf.Timestamp;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerResourceUsage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code ReportStatus}: the worker's heartbeat. Sends a full snapshot as soon as the session is
 * up, then one report per tick at {@code ttl - clamp(ttl/4, 1, 5)} seconds (with jitter), where
 * ttl is the latest {@code next_ttl_secs} acked by the controller. Each report carries the
 * executor's snapshot and the outcomes of commands applied since the last one.
 */
public final class StatusReportVerticle extends StreamVerticle {
  private static final long SNAPSHOT_TIMEOUT_MS = 2000;
  /** Ticks land in [0.9, 1.0] of the interval: never later than the TTL allows. */
  private static final double JITTER_MIN = 0.9;

  private final List<CommandResult> pendingResults = new ArrayList<>();
  private JsonObject lastSnapshot = new JsonObject();
  private GrpcClientRequest<StatusReport, StatusAck> call;
  private long nodeId;
  private long streamEpoch = -1;
  private long tickTimer = -1;
  private long debounceTimer = -1;
  /** Replica changes within this window go out in one report. */
  private static final long REPORT_NOW_DEBOUNCE_MS = 100;
  private int ttlSecs;

  public StatusReportVerticle(AgentContext ctx) {
    super(ctx, "ReportStatus");
  }

  @Override
  public io.vertx.core.Future<?> start() {
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_COMMAND_RESULT, msg -> {
      pendingResults.add(CommandResult.newBuilder().setCommandId(msg.body().getLong("command_id"))
          .setOk(msg.body().getBoolean("ok", true)).setMessage(msg.body().getString("message", "")).build());
      reportNow();
    });
    vertx.eventBus().consumer(Addresses.WORKER_REPORT_NOW, msg -> {
      // Coalesce bursts (a service of many replicas starting) into one report.
      if (debounceTimer < 0) {
        debounceTimer = vertx.setTimer(REPORT_NOW_DEBOUNCE_MS, t -> {
          debounceTimer = -1;
          reportNow();
        });
      }
    });
    return super.start();
  }

  /** Interval between reports for a TTL: {@code ttl - clamp(ttl/4, 1, 5)} s, at least half the TTL. */
  static long intervalMillis(int ttlSecs) {
    long ttl = ttlSecs * 1000L;
    long margin = Math.max(1000, Math.min(5000, ttl / 4));
    return Math.max(ttl / 2, ttl - margin);
  }

  @Override
  protected void open(ControllerChannel channel, long nodeId, long epoch) {
    this.nodeId = nodeId;
    this.streamEpoch = epoch;
    ttlSecs = (int) ctx.ttlBounds().min().toSeconds();
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.ReportStatus)
        .onSuccess(req -> {
          call = req;
          req.response().onSuccess(response -> {
            if (response.status() != null && response.status() != GrpcStatus.OK) {
              failed(epoch, response.status() + ": " + response.statusMessage());
              return;
            }
            response.handler(ack -> {
              if (current(epoch)) {
                ttlSecs = ctx.ttlBounds().clamp(ack.getNextTtlSecs());
                schedule();
              }
            });
            watchEnd(response, epoch);
          }).onFailure(e -> failed(epoch, SessionVerticle.describe(e)));
          report(true);
        })
        .onFailure(e -> failed(epoch, SessionVerticle.describe(e)));
  }

  private void schedule() {
    vertx.cancelTimer(tickTimer);
    long base = intervalMillis(ttlSecs);
    long delay = Math.max(1, (long) (base * ThreadLocalRandom.current().nextDouble(JITTER_MIN, 1.0)));
    tickTimer = vertx.setTimer(delay, t -> report(false));
  }

  private void reportNow() {
    if (call != null && current(streamEpoch)) {
      report(false);
    }
  }

  private void report(boolean full) {
    long epoch = streamEpoch;
    vertx.cancelTimer(tickTimer);
    vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_SNAPSHOT, new JsonObject(),
            new io.vertx.core.eventbus.DeliveryOptions().setSendTimeout(SNAPSHOT_TIMEOUT_MS))
        .map(msg -> lastSnapshot = msg.body())
        // A busy or absent executor must not make the node look empty: resend the last snapshot.
        .otherwise(e -> lastSnapshot)
        .compose(snapshot -> snapshot.containsKey("resources") ? Future.succeededFuture(snapshot)
            : vertx.executeBlocking(() -> snapshot.copy().put("resources", SystemProfile.usageJson()), false))
        .onSuccess(snapshot -> {
          if (call == null || !current(epoch)) {
            return;
          }
          StatusReport report = build(snapshot, full);
          List<CommandResult> sent = List.copyOf(pendingResults);
          pendingResults.clear();
          call.write(report).onFailure(e -> {
            pendingResults.addAll(0, sent); // reported again on the next session
            failed(epoch, SessionVerticle.describe(e));
          });
          // If no ack comes, still tick: a dead stream surfaces as a write failure.
          schedule();
        });
  }

  private StatusReport build(JsonObject snapshot, boolean full) {
    Instant now = Instant.now();
    StatusReport.Builder report = StatusReport.newBuilder()
        .setNodeId(nodeId)
        .setTs(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .setFullSnapshot(full)
        .setState(snapshot.getString("state", "ready"))
        .addAllCommandResults(pendingResults);
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
        .setGpuUsed(resources.getInteger("gpu_used", 0))
        .build());
    report.putAllLabels(ctx.labels());
    return report.build();
  }

  @Override
  protected void close() {
    vertx.cancelTimer(tickTimer);
    if (call != null) {
      call.cancel();
      call = null;
    }
  }
}
