package io.zlayer.worker.agent;

import io.zlayer.worker.pki.Fingerprints;
import io.zlayer.worker.pki.OneSidedTrust;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.Pki;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How a worker trusts a controller: the server certificate must be signed by the cluster CA
 * (checked with BouncyCastle, several times faster than the JDK's P-256), be valid now, and be
 * meant for a server (serverAuth: worker certificates carry clientAuth only, so a worker cannot
 * pose as a controller). A certificate once verified is remembered by fingerprint.
 */
final class ControllerTrust extends OneSidedTrust {
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

  private final X509Certificate ca;
  private final Set<String> verified = ConcurrentHashMap.newKeySet();

  ControllerTrust(String caPem) {
    super(Side.SERVER, "a worker does not accept clients");
    List<X509Certificate> certs = Pem.parseCertificates(caPem);
    if (certs.isEmpty()) {
      throw new IllegalArgumentException("no CA certificate");
    }
    this.ca = certs.get(0);
  }

  @Override
  protected void check(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("the controller presented no certificate");
    }
    X509Certificate leaf = chain[0];
    leaf.checkValidity();
    String fingerprint = Fingerprints.certificateSha256(leaf);
    if (verified.contains(fingerprint)) {
      return;
    }
    List<String> usages = leaf.getExtendedKeyUsage();
    if (usages != null && !usages.contains(SERVER_AUTH)) {
      throw new CertificateException("the controller's certificate is not meant for a server (no serverAuth)");
    }
    try {
      Pki.ensureProvider();
      Signature signature = Signature.getInstance(leaf.getSigAlgName(), Pki.PROVIDER);
      signature.initVerify(ca.getPublicKey());
      signature.update(leaf.getTBSCertificate());
      if (!signature.verify(leaf.getSignature())) {
        throw new CertificateException("the controller's certificate is not signed by the cluster CA");
      }
    } catch (CertificateException e) {
      throw e;
    } catch (Exception e) {
      throw new CertificateException("cannot verify the controller's certificate: " + e.getMessage(), e);
    }
    verified.add(fingerprint);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[] {ca};
  }
}
