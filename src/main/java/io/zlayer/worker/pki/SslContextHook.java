package io.zlayer.worker.pki;

import io.netty.handler.ssl.SslContext;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.spi.tls.SslContextFactory;
import java.util.List;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * Vert.x's OpenSSL engine with a say in the Netty {@link SslContext} it builds: the only place
 * where Vert.x 5 lets a caller reach OpenSSL's session settings (ticket keys on the controller, a
 * session cache kept across connections on the worker). Vert.x copies engine options into each
 * server and client, so {@link #copy()} keeps the hook. {@link JdkSslContextHook} is the same for
 * the JDK's engine.
 */
public final class SslContextHook extends OpenSSLEngineOptions {
  /** Builds the context, usually by calling {@code build.create()}, and may adjust or replace it. */
  @FunctionalInterface
  public interface Hook {
    SslContext create(SslContextFactory build) throws SSLException;
  }

  private final Hook hook;

  public SslContextHook(Hook hook) {
    this.hook = hook;
  }

  @Override
  public SslContextHook copy() {
    return new SslContextHook(hook);
  }

  @Override
  public SslContextFactory sslContextFactory() {
    return new Factory(super.sslContextFactory(), hook);
  }

  /** Passes every setting to Vert.x's own factory; only {@link #create()} goes through the hook. */
  static final class Factory implements SslContextFactory {
    private final SslContextFactory delegate;
    private final Hook hook;

    Factory(SslContextFactory delegate, Hook hook) {
      this.delegate = delegate;
      this.hook = hook;
    }

    @Override
    public SslContextFactory useAlpn(boolean useAlpn) {
      delegate.useAlpn(useAlpn);
      return this;
    }

    @Override
    public SslContextFactory clientAuth(io.netty.handler.ssl.ClientAuth clientAuth) {
      delegate.clientAuth(clientAuth);
      return this;
    }

    @Override
    public SslContextFactory forClient(boolean forClient) {
      delegate.forClient(forClient);
      return this;
    }

    @Override
    public SslContextFactory keyMananagerFactory(KeyManagerFactory kmf) {
      delegate.keyMananagerFactory(kmf);
      return this;
    }

    @Override
    public SslContextFactory trustManagerFactory(TrustManagerFactory tmf) {
      delegate.trustManagerFactory(tmf);
      return this;
    }

    @Override
    public SslContextFactory enabledCipherSuites(Set<String> enabledCipherSuites) {
      delegate.enabledCipherSuites(enabledCipherSuites);
      return this;
    }

    @Override
    public SslContextFactory applicationProtocols(List<String> applicationProtocols) {
      delegate.applicationProtocols(applicationProtocols);
      return this;
    }

    @Override
    public SslContextFactory serverName(String serverName) {
      delegate.serverName(serverName);
      return this;
    }

    @Override
    public SslContext create() throws SSLException {
      return hook.create(delegate);
    }
  }
}
