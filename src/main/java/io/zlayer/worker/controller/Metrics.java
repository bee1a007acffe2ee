package io.zlayer.worker.controller;

import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import io.zlayer.worker.controller.core.NodeState;
import java.util.EnumMap;
import java.util.Map;

/** {@code GET /metrics}: the controller's counters as JSON, for operators and the benchmark. */
final class Metrics {
  private Metrics() {
  }

  /** Nodes per state, by the state's wire name (states with no node are absent). */
  static Map<String, Integer> countByState(ControlPlane cp) {
    Map<NodeState, Integer> states = new EnumMap<>(NodeState.class);
    cp.nodes().all().forEach(n -> states.merge(n.state(), 1, Integer::sum));
    Map<String, Integer> byWire = new java.util.LinkedHashMap<>();
    states.forEach((s, n) -> byWire.put(s.wire(), n));
    return byWire;
  }

  static JsonObject snapshot(ControlPlane cp) {
    JsonObject byState = new JsonObject(new java.util.LinkedHashMap<>(countByState(cp)));
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    return new JsonObject()
        .put("cluster_id", cp.clusterId())
        .put("nodes", byState)
        .put("leases_live", cp.leases().size())
        .put("ttl_secs", cp.leases().currentTtl())
        .put("stream_connections", cp.streams().connections())
        .put("register_calls", cp.registrar().attempts())
        .put("heartbeats", cp.nodeService().heartbeats())
        .put("tls_resumed", cp.tickets().resumed())
        .put("heap_used_bytes", heap.getUsed())
        .put("heap_committed_bytes", heap.getCommitted())
        .put("jit_compile_ms", jitMillis());
  }

  /** Total JIT compilation time so far (0 when the JVM does not report it). */
  private static long jitMillis() {
    var jit = ManagementFactory.getCompilationMXBean();
    return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
  }
}
