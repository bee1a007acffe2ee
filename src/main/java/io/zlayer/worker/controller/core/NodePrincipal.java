package io.zlayer.worker.controller.core;

/**
 * A worker node proven by the {@link NodeGate}, once per call: by its client certificate's
 * fingerprint (gRPC) or by its legacy internal token (HTTP). Handlers take this, never the raw
 * credential, and check a node id named in a request with {@link #actingAs}.
 */
public record NodePrincipal(long nodeId, Credential credential) {

  /** How the node proved itself. */
  public enum Credential { CERTIFICATE, INTERNAL_TOKEN }

  /** This node, if {@code claimedNodeId} is its own id; else PERMISSION_DENIED. */
  public NodePrincipal actingAs(long claimedNodeId) {
    if (claimedNodeId != nodeId) {
      throw ControlPlaneException.permissionDenied((credential == Credential.CERTIFICATE ? "certificate" : "token")
          + " is node " + nodeId + "'s; it may not act as node " + claimedNodeId);
    }
    return this;
  }
}
