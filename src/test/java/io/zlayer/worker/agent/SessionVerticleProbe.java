package io.zlayer.worker.agent;

import java.security.cert.X509Certificate;

/** Exposes the renewal point of a certificate to tests in other packages, as a fraction of its lifetime. */
public final class SessionVerticleProbe {
  private SessionVerticleProbe() {
  }

  public static double renewAtFraction(X509Certificate cert) {
    double from = cert.getNotBefore().getTime();
    double to = cert.getNotAfter().getTime();
    return (io.zlayer.worker.agent.session.Session.renewAt(cert).toEpochMilli() - from) / (to - from);
  }
}
