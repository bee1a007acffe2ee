package io.zlayer.worker.sim;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Assignments written through the operator bridge to random connected nodes, each timed from
 * the write to its receipt by the node's session (gRPC stream or woken legacy poll).
 */
final class AssignPhase {
  /** Delivery counts and write-to-receipt latencies, gRPC and legacy apart. */
  record Result(int assignmentsSent, int assignmentsDelivered, double assignmentP50Ms, double assignmentP99Ms,
                double assignmentMaxMs, int legacyAssignmentsSent, int legacyAssignmentsDelivered,
                double legacyWakeP50Ms, double legacyWakeP99Ms, int crossAssignmentsSent,
                int crossAssignmentsDelivered, double crossAssignmentP50Ms, double crossAssignmentP99Ms,
                JsonArray assignmentLatenciesMs, JsonArray crossAssignmentLatenciesMs,
                JsonArray legacyWakeLatenciesMs) {
    static final Result NONE = new Result(0, 0, Double.NaN, Double.NaN, Double.NaN, 0, 0, Double.NaN, Double.NaN,
        0, 0, Double.NaN, Double.NaN, new JsonArray(), new JsonArray(), new JsonArray());
  }

  private static final Duration DELIVERY_WAIT = Duration.ofSeconds(30);

  private AssignPhase() {
  }

  static Result run(Simulator.Run run, int assignments) throws InterruptedException {
    if (assignments <= 0) {
      return Result.NONE;
    }
    Fleet fleet = run.fleet();
    Progress progress = run.progress();
    progress.phase = "assign";
    List<SimNode> targets = run.nodes().stream().filter(w -> w.nodeId() > 0).toList();
    if (targets.isEmpty()) {
      throw new IllegalStateException("no registered worker to assign to");
    }
    int grpcSent = 0;
    int legacySent = 0;
    int crossSent = 0;
    HostPort operatorServer = run.operatorServer();
    for (int k = 0; k < assignments; k++) {
      SimNode target = targets.get(ThreadLocalRandom.current().nextInt(targets.size()));
      String service = "sim-a" + k;
      HostPort on = target.server();
      boolean cross = !target.legacy && operatorServer != null && on != null && !sameController(on, operatorServer);
      fleet.pending.put(service, new long[] {System.nanoTime(), target.legacy ? 1 : 0, cross ? 1 : 0});
      try {
        run.operator().request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", target.nodeId())
            .put("service", service).put("role", "default").put("indices", new JsonArray().add(0))
            .put("command", "true").put("env", new JsonObject()));
      } catch (Exception e) {
        fleet.pending.remove(service);
        fleet.otherErrors.increment();
        fleet.noteError("assign", e);
        continue;
      }
      if (target.legacy) {
        legacySent++;
      } else {
        grpcSent++;
      }
      if (cross) {
        crossSent++;
      }
      progress.maybe();
    }
    progress.waitFor(fleet.pending::isEmpty, DELIVERY_WAIT);
    progress.out.printf("sim: assignments delivered %d/%d (gRPC), %d/%d (legacy)%n", fleet.grpcLatency.count(),
        grpcSent, fleet.legacyLatency.count(), legacySent);
    if (crossSent > 0) {
      progress.out.printf("sim: cross-controller assignments delivered %d/%d, p50 %.1f ms, p99 %.1f ms%n",
          fleet.crossLatency.count(), crossSent, fleet.crossLatency.percentileMillis(50),
          fleet.crossLatency.percentileMillis(99));
    }
    return new Result(grpcSent, fleet.grpcLatency.count(), fleet.grpcLatency.percentileMillis(50),
        fleet.grpcLatency.percentileMillis(99), fleet.grpcLatency.maxMillis(), legacySent,
        fleet.legacyLatency.count(), fleet.legacyLatency.percentileMillis(50), fleet.legacyLatency.percentileMillis(99),
        crossSent, fleet.crossLatency.count(), fleet.crossLatency.percentileMillis(50),
        fleet.crossLatency.percentileMillis(99), fleet.grpcLatency.millis(), fleet.crossLatency.millis(),
        fleet.legacyLatency.millis());
  }

  /** The same controller: same port, and the same host unless the operator's listens on every address. */
  private static boolean sameController(HostPort a, HostPort operator) {
    return a.port() == operator.port()
        && (operator.host().equals("0.0.0.0") || operator.host().equals("::") || a.host().equals(operator.host()));
  }
}
