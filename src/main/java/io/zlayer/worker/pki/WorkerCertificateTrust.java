package io.zlayer.worker.pki;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.function.Predicate;

/**
 * The TLS layer's check of a worker's client certificate. A certificate this controller issued
 * to a node is recognised by its fingerprint (a map lookup); any other must carry this CA's
 * signature (verified with BouncyCastle) and be within its validity; anything else fails the
 * handshake. The JDK's PKIX validator did the same with SunEC's P-256 and cost more than half
 * the controller's CPU while a fleet reconnected. Authorization stays with the
 * {@link io.zlayer.worker.controller.core.NodeGate}. The handshake benchmark
 * ({@link io.zlayer.worker.sim.HandshakeCost}) measures this same check.
 */
public final class WorkerCertificateTrust extends OneSidedTrust {
  private final WorkerCa ca;
  private final Predicate<String> knownFingerprint;
  private final X509Certificate[] issuers;

  /** {@code knownFingerprint}: whether a certificate's SHA-256 (lower-case hex) was issued to a node. */
  public WorkerCertificateTrust(WorkerCa ca, Predicate<String> knownFingerprint) {
    super(Side.CLIENT, "the controller does not verify servers with this trust manager");
    this.ca = ca;
    this.knownFingerprint = knownFingerprint;
    this.issuers = new X509Certificate[] {ca.certificate()};
  }

  @Override
  protected void check(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("no client certificate");
    }
    X509Certificate leaf = chain[0];
    // Known by fingerprint: issued by us to a node. Expiry and revocation are the gate's to judge
    // (from the stored record); reading the certificate's fields here would parse it for nothing.
    if (knownFingerprint.test(Fingerprints.sha256Hex(leaf.getEncoded()))) {
      return;
    }
    if (!ca.issued(leaf)) {
      throw new CertificateException("client certificate was not issued by this cluster's worker CA or has expired");
    }
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return issuers.clone();
  }
}
