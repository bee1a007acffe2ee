package io.zlayer.worker.pki;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager that checks one side's certificates only: the peer's chain goes to
 * {@link #check}, whichever of the three JDK entry points the TLS engine calls; a chain of the
 * other side is refused with {@code otherSide} as the message.
 */
public abstract class OneSidedTrust extends X509ExtendedTrustManager {
  /** Which side's certificates this trust manager checks. */
  public enum Side { CLIENT, SERVER }

  private final Side side;
  private final String otherSide;

  protected OneSidedTrust(Side side, String otherSide) {
    this.side = side;
    this.otherSide = otherSide;
  }

  /** Accepts the peer's chain (leaf first) or throws. */
  protected abstract void check(X509Certificate[] chain) throws CertificateException;

  private void check(Side of, X509Certificate[] chain) throws CertificateException {
    if (of != side) {
      throw new CertificateException(otherSide);
    }
    check(chain);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(Side.CLIENT, chain);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(Side.CLIENT, chain);
  }

  @Override
  public final void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(Side.CLIENT, chain);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(Side.SERVER, chain);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(Side.SERVER, chain);
  }

  @Override
  public final void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(Side.SERVER, chain);
  }
}
