package io.zlayer.worker.controller;

import io.vertx.core.http.HttpConnection;
import io.zlayer.worker.pki.Fingerprints;
import io.zlayer.worker.pki.NodeIdentity;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The one place that decides who a worker is: every worker call except Register must come
 * over a connection whose client certificate this CA issued, for this cluster, that is the
 * node's current (not revoked) certificate, and whose node id equals the id in the request.
 */
public final class MtlsGate {
  private final String clusterId;
  private final NodeDirectory nodes;

  public MtlsGate(String clusterId, NodeDirectory nodes) {
    this.clusterId = clusterId;
    this.nodes = nodes;
  }

  /** Returns the node the connection's certificate proves, or throws UNAUTHENTICATED/PERMISSION_DENIED. */
  public NodeRecord authorize(HttpConnection connection, long claimedNodeId) {
    X509Certificate cert = clientCertificate(connection);
    NodeIdentity identity = NodeIdentity.of(cert).orElseThrow(() -> ControlPlaneException.unauthenticated(
        "client certificate carries no node identity"));
    if (!identity.clusterId().equals(clusterId)) {
      throw ControlPlaneException.unauthenticated("client certificate belongs to cluster " + identity.clusterId());
    }
    NodeRecord node = nodes.get(identity.nodeId()).orElseThrow(() -> ControlPlaneException.unauthenticated(
        "node " + identity.nodeId() + " is not registered"));
    if (node.state() == NodeState.QUARANTINED) {
      throw ControlPlaneException.unauthenticated("certificate of node " + node.nodeId() + " has been revoked");
    }
    if (node.state() == NodeState.DEREGISTERED) {
      throw ControlPlaneException.unauthenticated("node " + node.nodeId()
          + " has deregistered; join again with a new bootstrap token");
    }
    // The fingerprint equals the one this CA issued and stored for the node: that proves the
    // certificate is ours without a signature check per call (which would cost an ECDSA verify
    // on the event loop for every stream a reconnecting fleet opens).
    if (!Fingerprints.certificateSha256(cert).equals(node.certSha256())
        && !Fingerprints.certificateSha256(cert).equals(node.previousCertSha256())) {
      throw ControlPlaneException.unauthenticated("client certificate is not node " + node.nodeId()
          + "'s current certificate (revoked or replaced)");
    }
    try {
      cert.checkValidity();
    } catch (java.security.cert.CertificateException e) {
      throw ControlPlaneException.unauthenticated("client certificate of node " + node.nodeId()
          + " has expired; the worker must renew it before expiry or join again");
    }
    if (claimedNodeId != identity.nodeId()) {
      throw ControlPlaneException.permissionDenied("certificate is node " + identity.nodeId()
          + "'s; it may not act as node " + claimedNodeId);
    }
    return node;
  }

  private static X509Certificate clientCertificate(HttpConnection connection) {
    if (connection == null || !connection.isSsl()) {
      throw ControlPlaneException.unauthenticated("a TLS client certificate is required");
    }
    try {
      List<Certificate> chain = connection.peerCertificates();
      if (chain == null || chain.isEmpty() || !(chain.get(0) instanceof X509Certificate leaf)) {
        throw ControlPlaneException.unauthenticated("a TLS client certificate is required");
      }
      return leaf;
    } catch (SSLPeerUnverifiedException e) {
      throw ControlPlaneException.unauthenticated("a TLS client certificate is required");
    }
  }
}
