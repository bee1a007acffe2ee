package io.zlayer.worker.controller.http;

import io.zlayer.worker.controller.core.JsonNumbers;
import io.zlayer.worker.controller.core.ControlPlaneException;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerResourceUsage;
import com.google.protobuf.Timestamp;

/**
 * Reading the legacy API's JSON (seed 001's shapes) strictly: every wrong field is an
 * INVALID_ARGUMENT naming it, never an exception escaping to the peer.
 */
final class LegacyJson {
  private LegacyJson() {
  }

  static JsonObject body(RoutingContext rc) {
    String text = rc.body() == null ? null : rc.body().asString();
    if (text == null || text.isBlank()) {
      throw ControlPlaneException.invalidArgument("body is empty; expected a JSON object");
    }
    Object parsed;
    try {
      parsed = io.vertx.core.json.Json.decodeValue(text);
    } catch (DecodeException e) {
      throw ControlPlaneException.invalidArgument("body is not valid JSON");
    }
    if (!(parsed instanceof JsonObject json)) {
      throw ControlPlaneException.invalidArgument("body must be a JSON object");
    }
    return json;
  }

  /** A non-negative integer field; {@code fallback} null means required. */
  static long count(JsonObject json, String field, Long fallback) {
    return count(json, field, fallback, Long.MAX_VALUE);
  }

  /** A non-negative integer field of at most {@code max}: out of range is refused, never wrapped or clamped. */
  static long count(JsonObject json, String field, Long fallback, long max) {
    Object value = json.getValue(field);
    if (value == null) {
      if (fallback == null) {
        throw ControlPlaneException.invalidArgument(field + " is required");
      }
      return fallback;
    }
    try {
      return JsonNumbers.integer(value, 0, max);
    } catch (JsonNumbers.Refused e) {
      throw ControlPlaneException.invalidArgument(field + " " + e.getMessage());
    }
  }

  static String string(JsonObject json, String field) {
    Object value = json.getValue(field);
    if (value == null) {
      throw ControlPlaneException.invalidArgument(field + " is required");
    }
    if (!(value instanceof String s)) {
      throw ControlPlaneException.invalidArgument(field + " must be a string, got " + quote(value));
    }
    return s;
  }

  static JsonObject object(JsonObject json, String field) {
    Object value = json.getValue(field);
    if (value == null) {
      throw ControlPlaneException.invalidArgument(field + " is required");
    }
    if (!(value instanceof JsonObject o)) {
      throw ControlPlaneException.invalidArgument(field + " must be an object");
    }
    return o;
  }

  /** Seed 001's {@code WorkerStatusReport} as the protobuf report both APIs feed to the lifecycle. */
  static StatusReport statusReport(JsonObject json, long nodeId) {
    StatusReport.Builder report = StatusReport.newBuilder().setNodeId(nodeId).setFullSnapshot(true);
    long tsNs = count(json, "ts_ns", 0L);
    report.setTs(Timestamp.newBuilder().setSeconds(tsNs / 1_000_000_000L).setNanos((int) (tsNs % 1_000_000_000L)));
    Object containers = json.getValue("containers");
    if (containers != null && !(containers instanceof JsonArray)) {
      throw ControlPlaneException.invalidArgument("containers must be an array");
    }
    int i = 0;
    for (Object o : containers == null ? new JsonArray() : (JsonArray) containers) {
      if (!(o instanceof JsonObject c)) {
        throw ControlPlaneException.invalidArgument("containers[" + i + "] must be an object");
      }
      String at = "containers[" + i + "].";
      report.addContainers(ContainerStatus.newBuilder()
          .setService(prefixed(at, () -> string(c, "service")))
          .setRole(c.getValue("role") == null ? "default" : prefixed(at, () -> string(c, "role")))
          .setReplica((int) (long) prefixed(at, () -> count(c, "replica", null, Integer.MAX_VALUE)))
          .setState(prefixed(at, () -> string(c, "state")))
          .setOverlayIp(c.getValue("overlay_ip") == null ? "" : prefixed(at, () -> string(c, "overlay_ip")))
          .setPid(prefixed(at, () -> count(c, "pid", 0L))));
      i++;
    }
    Object resources = json.getValue("resources");
    if (resources != null) {
      if (!(resources instanceof JsonObject r)) {
        throw ControlPlaneException.invalidArgument("resources must be an object");
      }
      Object cpu = r.getValue("cpu_used");
      if (cpu != null && (!(cpu instanceof Number c) || c.doubleValue() < 0)) {
        throw ControlPlaneException.invalidArgument("resources.cpu_used must be a non-negative number, got " + quote(cpu));
      }
      double cpuUsed;
      try {
        cpuUsed = cpu == null ? 0 : JsonNumbers.finite(cpu, 0, Double.MAX_VALUE);
      } catch (JsonNumbers.Refused e) {
        throw ControlPlaneException.invalidArgument("resources.cpu_used " + e.getMessage());
      }
      report.setResources(WorkerResourceUsage.newBuilder()
          .setCpuUsed(cpuUsed)
          .setMemoryUsedBytes(prefixed("resources.", () -> count(r, "memory_used_bytes", 0L)))
          .setGpuUsed((int) (long) prefixed("resources.", () -> count(r, "gpu_used", 0L, Integer.MAX_VALUE))));
    }
    return report.build();
  }

  private static <T> T prefixed(String prefix, java.util.function.Supplier<T> read) {
    try {
      return read.get();
    } catch (ControlPlaneException e) {
      throw ControlPlaneException.invalidArgument(prefix + e.getMessage());
    }
  }

  private static String quote(Object value) {
    return value instanceof String s ? "\"" + s + "\"" : String.valueOf(value);
  }
}
