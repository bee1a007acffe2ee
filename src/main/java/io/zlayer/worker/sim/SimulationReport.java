package io.zlayer.worker.sim;

import io.vertx.core.json.JsonObject;

/**
 * The outcome of one simulator run. Times in seconds, latencies in milliseconds, rates per second.
 * A figure that was not measured in this run is NaN (JSON: null) or 0.
 */
public record SimulationReport(
    int workers,
    int grpcWorkers,
    int legacyWorkers,
    long registered,
    long connectedAtEnd,
    long maxConnected,
    double keygenSecs,
    double registerSecs,
    double registerRate,
    double connectSecs,
    long registerErrors,
    long connectFailures,
    long streamDrops,
    long otherErrors,
    long reconnectDrops,
    long reconnectConnectFailures,
    int assignmentsSent,
    int assignmentsDelivered,
    double assignmentP50Ms,
    double assignmentP99Ms,
    double assignmentMaxMs,
    int legacyAssignmentsSent,
    int legacyAssignmentsDelivered,
    double legacyWakeP50Ms,
    double legacyWakeP99Ms,
    double ingestControllerRate,
    double ingestAckRate,
    double ingestOfferedRate,
    boolean reconnectObserved,
    long reconnectDropEpochMs,
    long reconnectAllBackEpochMs,
    double reconnectSecs,
    long maxUnreachable,
    long statusReportsSent,
    long acksReceived,
    double totalSecs,
    double cryptoBeforeStormRate,
    double cryptoAfterConnectRate) {

  /** Errors a clean run must not have: failed registrations, failed connects and dropped streams. */
  public long errors() {
    return registerErrors + connectFailures + streamDrops + otherErrors;
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject();
    for (var component : SimulationReport.class.getRecordComponents()) {
      try {
        Object value = component.getAccessor().invoke(this);
        if (value instanceof Double d && (d.isNaN() || d.isInfinite())) {
          value = null;
        }
        json.put(snake(component.getName()), value);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    json.put("errors", errors());
    return json;
  }

  private static String snake(String camel) {
    StringBuilder sb = new StringBuilder();
    for (char c : camel.toCharArray()) {
      if (Character.isUpperCase(c)) {
        sb.append('_').append(Character.toLowerCase(c));
      } else if (Character.isDigit(c) && sb.length() > 0 && !Character.isDigit(sb.charAt(sb.length() - 1))) {
        sb.append('_').append(c);
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  /** A human summary, one figure per line. */
  public String summary() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format("simulation summary (%d workers: %d gRPC, %d legacy; %.1f s)%n", workers, grpcWorkers,
        legacyWorkers, totalSecs));
    sb.append(String.format("  keys+CSRs prepared   %.2f s (before the clock)%n", keygenSecs));
    sb.append(String.format("  registered           %d/%d in %.2f s = %.0f/s%n", registered, workers, registerSecs, registerRate));
    sb.append(String.format("  all connected in     %.2f s from the first Register (max connected %d, at end %d)%n",
        connectSecs, maxConnected, connectedAtEnd));
    sb.append(String.format("  errors               %d (register %d, connect %d, stream drops %d, other %d)%n", errors(),
        registerErrors, connectFailures, streamDrops, otherErrors));
    if (assignmentsSent > 0) {
      sb.append(String.format("  assignments          %d/%d delivered, write->receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
          assignmentsDelivered, assignmentsSent, assignmentP50Ms, assignmentP99Ms, assignmentMaxMs));
    }
    if (legacyAssignmentsSent > 0) {
      sb.append(String.format("  legacy wakes         %d/%d delivered, p50 %.1f ms, p99 %.1f ms%n",
          legacyAssignmentsDelivered, legacyAssignmentsSent, legacyWakeP50Ms, legacyWakeP99Ms));
    }
    if (!Double.isNaN(ingestControllerRate)) {
      sb.append(String.format("  ingest               controller %.0f reports/s, acks %.0f/s, offered %.0f/s%n",
          ingestControllerRate, ingestAckRate, ingestOfferedRate));
    }
    if (reconnectObserved) {
      sb.append(String.format("  reconnect            all back %.2f s after the first drop; max unreachable %d%n",
          reconnectSecs, maxUnreachable));
    }
    sb.append(String.format("  status reports sent  %d, acks %d%n", statusReportsSent, acksReceived));
    return sb.toString();
  }
}
