package io.zlayer.worker.controller;

import io.vertx.core.http.HttpConnection;
import io.zlayer.worker.pki.Fingerprints;
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
    // Identify the certificate by its fingerprint against what this CA issued and stored: that
    // proves it is ours without parsing it (the TLS layer keeps a parsed certificate per
    // connection once anything reads its fields) and without a signature check per call.
    String sha256;
    try {
      sha256 = Fingerprints.sha256Hex(cert.getEncoded());
    } catch (java.security.cert.CertificateEncodingException e) {
      throw ControlPlaneException.unauthenticated("client certificate cannot be read");
    }
    long owner = nodes.certificateOwner(sha256).orElseThrow(() -> ControlPlaneException.unauthenticated(
        "client certificate was not issued to a current node of cluster " + clusterId
        + " (unknown, or its node was deregistered and collected)"));
    NodeRecord node = nodes.get(owner).orElseThrow(() -> ControlPlaneException.unauthenticated(
        "node " + owner + " is not registered (deregistered and collected)"));
    if (node.state() == NodeState.QUARANTINED) {
      throw ControlPlaneException.unauthenticated("certificate of node " + node.nodeId() + " has been revoked");
    }
    if (node.state() == NodeState.DEREGISTERED) {
      throw ControlPlaneException.unauthenticated("node " + node.nodeId()
          + " has deregistered; join again with a new bootstrap token");
    }
    boolean current = sha256.equals(node.certSha256());
    if (!current && !sha256.equals(node.previousCertSha256())) {
      throw ControlPlaneException.unauthenticated("client certificate is not node " + node.nodeId()
          + "'s current certificate (revoked or replaced)");
    }
    boolean expired;
    if (current) {
      expired = node.certNotAfter() > 0 && System.currentTimeMillis() / 1000 > node.certNotAfter();
    } else {
      try {
        cert.checkValidity(); // the rare case: a certificate a rotation replaced
        expired = false;
      } catch (java.security.cert.CertificateException e) {
        expired = true;
      }
    }
    if (expired) {
      throw ControlPlaneException.unauthenticated("client certificate of node " + node.nodeId()
          + " has expired; the worker must renew it before expiry or join again");
    }
    if (claimedNodeId != owner) {
      throw ControlPlaneException.permissionDenied("certificate is node " + owner
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
