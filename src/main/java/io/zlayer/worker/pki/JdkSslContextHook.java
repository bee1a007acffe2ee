package io.zlayer.worker.pki;

import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.spi.tls.SslContextFactory;

/** {@link SslContextHook} for the JDK's engine: a say in the Netty context Vert.x builds. */
public final class JdkSslContextHook extends JdkSSLEngineOptions {
  private final SslContextHook.Hook hook;

  public JdkSslContextHook(SslContextHook.Hook hook) {
    this.hook = hook;
  }

  @Override
  public JdkSslContextHook copy() {
    return new JdkSslContextHook(hook);
  }

  @Override
  public SslContextFactory sslContextFactory() {
    return new SslContextHook.Factory(super.sslContextFactory(), hook);
  }
}
