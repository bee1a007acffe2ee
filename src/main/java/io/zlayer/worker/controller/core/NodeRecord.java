package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;

/**
 * A worker node as stored durably under {@code nodes/<id>}: identity, profile and lifecycle
 * state. Heartbeat times live in the {@link LeaseDirectory}, not here.
 *
 * @param profile     the worker's profile as JSON: api_addr, os, arch, labels, cpu_total, memory_total_bytes
 * @param certSha256  hex SHA-256 of the current certificate's DER (revocation is by this fingerprint)
 * @param certNotAfter epoch seconds
 * @param protocol    "grpc" or "http" (legacy long-poll)
 * @param internalTokenSha256 hex SHA-256 of a legacy worker's {@code X-ZLayer-Internal-Token}; null for gRPC workers
 * @param previousCertSha256 the certificate a rotation replaced: still accepted until it expires, so
 *                           a worker that crashed before saving its new certificate is not locked out
 * @param stateSince  epoch seconds when the node entered its state (deregistered nodes are
 *                    collected {@code node_gc_threshold} after it)
 */
public record NodeRecord(long nodeId, NodeState state, JsonObject profile, String certSerial,
                         String certSha256, long certNotAfter, long registeredAt, String protocol,
                         String stateCause, String internalTokenSha256, String previousCertSha256,
                         long stateSince) {

  public static final String PREFIX = "nodes/";

  /** The profile is kept read-only and compact: every node's record lives in memory for its life. */
  public NodeRecord {
    profile = FrozenJson.freeze(profile);
  }

  public static String key(long nodeId) {
    return PREFIX + nodeId;
  }

  public String key() {
    return key(nodeId);
  }

  /** This node in state {@code next} since {@code nowEpochSecs} (unchanged if it already was). */
  public NodeRecord withState(NodeState next, String cause, long nowEpochSecs) {
    return new NodeRecord(nodeId, next, profile, certSerial, certSha256, certNotAfter, registeredAt,
        protocol, cause, internalTokenSha256, previousCertSha256, next == state ? stateSince : nowEpochSecs);
  }

  public NodeRecord withCertificate(String serial, String sha256, long notAfter) {
    return new NodeRecord(nodeId, state, profile, serial, sha256, notAfter, registeredAt, protocol,
        stateCause, internalTokenSha256, certSha256, stateSince);
  }

  public JsonObject toJson() {
    return new JsonObject()
        .put("node_id", nodeId)
        .put("state", state.wire())
        .put("profile", profile)
        .put("cert_serial", certSerial)
        .put("cert_sha256", certSha256)
        .put("cert_not_after", certNotAfter)
        .put("registered_at", registeredAt)
        .put("protocol", protocol)
        .put("state_cause", stateCause)
        .put("internal_token_sha256", internalTokenSha256)
        .put("previous_cert_sha256", previousCertSha256)
        .put("state_since", stateSince);
  }

  /**
   * When the state began; records written before the field existed have none: a deregistered
   * one then counts from {@code nowEpochSecs} (so it is not collected at once after an upgrade),
   * others from their registration.
   */
  private static long stateSince(JsonObject json, long nowEpochSecs) {
    Long since = json.getLong("state_since");
    if (since != null) {
      return since;
    }
    return NodeState.ofWire(json.getString("state")) == NodeState.DEREGISTERED
        ? nowEpochSecs : json.getLong("registered_at", 0L);
  }

  /** A stored record, read at {@code nowEpochSecs}. */
  public static NodeRecord fromJson(JsonObject json, long nowEpochSecs) {
    return new NodeRecord(json.getLong("node_id"), NodeState.ofWire(json.getString("state")),
        json.getJsonObject("profile", new JsonObject()), json.getString("cert_serial"),
        json.getString("cert_sha256"), json.getLong("cert_not_after", 0L),
        json.getLong("registered_at", 0L), json.getString("protocol", "grpc"),
        json.getString("state_cause"), json.getString("internal_token_sha256"),
        json.getString("previous_cert_sha256"),
        stateSince(json, nowEpochSecs));
  }
}
