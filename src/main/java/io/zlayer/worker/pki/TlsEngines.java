package io.zlayer.worker.pki;

import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.SSLEngineOptions;

/**
 * Which TLS engine the controller and the worker use: OpenSSL (BoringSSL through
 * netty-tcnative) when it loads on this platform, since it handshakes several times faster than
 * the JDK's engine and keeps its buffers off the heap; else the JDK's. The system property
 * {@code zlayer.tls.engine=jdk} forces the JDK engine.
 */
public final class TlsEngines {
  public static final String PROPERTY = "zlayer.tls.engine";

  private TlsEngines() {
  }

  public static SSLEngineOptions preferred() {
    if (!"jdk".equalsIgnoreCase(System.getProperty(PROPERTY)) && OpenSSLEngineOptions.isAvailable()
        && OpenSSLEngineOptions.isAlpnAvailable()) {
      return new OpenSSLEngineOptions();
    }
    return new JdkSSLEngineOptions();
  }

  public static String describe(SSLEngineOptions options) {
    return options instanceof OpenSSLEngineOptions ? "OpenSSL" : "JDK";
  }
}
