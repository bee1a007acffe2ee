package io.zlayer.worker.sim;

import io.vertx.core.json.JsonObject;

/**
 * The outcome of one simulator run, one part per phase. Times in seconds, latencies in
 * milliseconds, rates per second. A figure that was not measured in this run is NaN (JSON: null)
 * or 0. The JSON is flat (bench/run reads it): every part's fields under their snake_case names.
 */
public record SimulationReport(StormPhase.Result storm, Counts counts, AssignPhase.Result assignments,
                               IngestPhase.Result ingest, ReconnectPhase.Result reconnect) {
  /** The fleet's counters at the end of the run, and the crypto baseline measured around the storm. */
  record Counts(long connectedAtEnd, long maxConnected, long registerErrors, long connectFailures, long streamDrops,
                long otherErrors, long reconnectDrops, long reconnectConnectFailures, long statusReportsSent,
                long acksReceived, double totalSecs, double cryptoBeforeStormRate, double cryptoAfterConnectRate) {
  }

  public long registered() {
    return storm.registered();
  }

  public long maxConnected() {
    return counts.maxConnected();
  }

  public int assignmentsSent() {
    return assignments.assignmentsSent();
  }

  public int assignmentsDelivered() {
    return assignments.assignmentsDelivered();
  }

  /** Errors a clean run must not have: failed registrations, failed connects and dropped streams. */
  public long errors() {
    return counts.registerErrors() + counts.connectFailures() + counts.streamDrops() + counts.otherErrors();
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject();
    for (Record part : new Record[] {storm, counts, assignments, ingest, reconnect}) {
      for (var component : part.getClass().getRecordComponents()) {
        try {
          Object value = component.getAccessor().invoke(part);
          if (value instanceof Double d && (d.isNaN() || d.isInfinite())) {
            value = null;
          }
          json.put(snake(component.getName()), value);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(e);
        }
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
    StormPhase.Result s = storm;
    Counts c = counts;
    sb.append(String.format("simulation summary (%d workers: %d gRPC, %d legacy; %.1f s)%n", s.workers(),
        s.grpcWorkers(), s.legacyWorkers(), c.totalSecs()));
    sb.append(String.format("  keys+CSRs prepared   %.2f s (before the clock)%n", s.keygenSecs()));
    sb.append(String.format("  registered           %d/%d in %.2f s = %.0f/s%n", s.registered(), s.workers(),
        s.registerSecs(), s.registerRate()));
    sb.append(String.format("  all connected in     %.2f s after the storm (max connected %d, at end %d)%n",
        s.connectSecs(), c.maxConnected(), c.connectedAtEnd()));
    sb.append(String.format("  errors               %d (register %d, connect %d, stream drops %d, other %d)%n", errors(),
        c.registerErrors(), c.connectFailures(), c.streamDrops(), c.otherErrors()));
    AssignPhase.Result a = assignments;
    if (a.assignmentsSent() > 0) {
      sb.append(String.format("  assignments          %d/%d delivered, write->receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
          a.assignmentsDelivered(), a.assignmentsSent(), a.assignmentP50Ms(), a.assignmentP99Ms(), a.assignmentMaxMs()));
    }
    if (a.crossAssignmentsSent() > 0) {
      sb.append(String.format("  cross-controller     %d/%d delivered, p50 %.1f ms, p99 %.1f ms%n",
          a.crossAssignmentsDelivered(), a.crossAssignmentsSent(), a.crossAssignmentP50Ms(), a.crossAssignmentP99Ms()));
    }
    if (a.legacyAssignmentsSent() > 0) {
      sb.append(String.format("  legacy wakes         %d/%d delivered, p50 %.1f ms, p99 %.1f ms%n",
          a.legacyAssignmentsDelivered(), a.legacyAssignmentsSent(), a.legacyWakeP50Ms(), a.legacyWakeP99Ms()));
    }
    if (!Double.isNaN(ingest.ingestControllerRate())) {
      sb.append(String.format("  ingest               controller %.0f reports/s, acks %.0f/s, offered %.0f/s%n",
          ingest.ingestControllerRate(), ingest.ingestAckRate(), ingest.ingestOfferedRate()));
    }
    if (reconnect.reconnectObserved()) {
      sb.append(String.format("  reconnect            all back %.2f s after the first drop; max unreachable %d%n",
          reconnect.reconnectSecs(), reconnect.maxUnreachable()));
    }
    sb.append(String.format("  status reports sent  %d, acks %d%n", c.statusReportsSent(), c.acksReceived()));
    return sb.toString();
  }
}
