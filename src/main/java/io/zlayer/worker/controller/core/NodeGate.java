package io.zlayer.worker.controller.core;

import io.zlayer.worker.pki.Fingerprints;
import java.security.cert.X509Certificate;
import java.time.Clock;

/**
 * The one place that decides who a worker is (Hono's {@code X509AuthHandler}): it turns a call's
 * credential into a {@link NodePrincipal}, once per call. A gRPC call must present a client
 * certificate this CA issued to a node of this cluster, that is the node's current certificate
 * (or the one a rotation just replaced, until it expires); a legacy HTTP call must present the
 * node's internal token. Either way the node must be live ({@link NodeService#live}). Every
 * refusal is UNAUTHENTICATED: the caller's credential does not work any more.
 */
public final class NodeGate {
  private final String clusterId;
  private final NodeDirectory nodes;
  private final NodeService service;
  private final Clock clock;

  public NodeGate(String clusterId, NodeDirectory nodes, NodeService service, Clock clock) {
    this.clusterId = clusterId;
    this.nodes = nodes;
    this.service = service;
    this.clock = clock;
  }

  /**
   * The node a client certificate proves ({@code null}: none presented). The certificate is
   * identified by its fingerprint against what this CA issued and stored: that proves it is ours
   * without parsing it and without a signature check per call.
   */
  public NodePrincipal certificate(X509Certificate cert) {
    if (cert == null) {
      throw ControlPlaneException.unauthenticated("a TLS client certificate is required");
    }
    String sha256;
    try {
      sha256 = Fingerprints.sha256Hex(cert.getEncoded());
    } catch (java.security.cert.CertificateEncodingException e) {
      throw ControlPlaneException.unauthenticated("client certificate cannot be read");
    }
    long owner = nodes.certificateOwner(sha256).orElseThrow(() -> ControlPlaneException.unauthenticated(
        "client certificate was not issued to a current node of cluster " + clusterId
        + " (unknown, or its node was deregistered and collected)"));
    NodeRecord node = liveForWorker(owner);
    boolean current = sha256.equals(node.certSha256());
    if (!current && !sha256.equals(node.previousCertSha256())) {
      throw ControlPlaneException.unauthenticated("client certificate is not node " + owner
          + "'s current certificate (revoked or replaced)");
    }
    // The current certificate's expiry is on record; a replaced one (rare) is read from the certificate.
    long notAfter = current ? node.certNotAfter() : cert.getNotAfter().toInstant().getEpochSecond();
    if (notAfter > 0 && clock.instant().getEpochSecond() > notAfter) {
      throw ControlPlaneException.unauthenticated("client certificate of node " + owner
          + " has expired; the worker must renew it before expiry or join again");
    }
    return new NodePrincipal(owner, NodePrincipal.Credential.CERTIFICATE);
  }

  /** The legacy worker that presents {@code token} as node {@code claimedNodeId}. */
  public NodePrincipal internalToken(long claimedNodeId, String token) {
    NodeRecord node = nodes.get(claimedNodeId).orElseThrow(() -> ControlPlaneException.notFound(
        "node " + claimedNodeId + " is not registered"));
    if (!InternalTokens.matches(token, node.internalTokenSha256())) {
      throw ControlPlaneException.unauthenticated("missing or wrong internal token (X-ZLayer-Internal-Token) for node "
          + claimedNodeId);
    }
    liveForWorker(claimedNodeId);
    return new NodePrincipal(claimedNodeId, NodePrincipal.Credential.INTERNAL_TOKEN);
  }

  private NodeRecord liveForWorker(long nodeId) {
    try {
      return service.live(nodeId);
    } catch (ControlPlaneException notLive) {
      throw ControlPlaneException.unauthenticated(notLive.getMessage());
    }
  }
}
