package io.zlayer.worker.agent;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolNegotiator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.SSLEngineOptions;
import io.zlayer.worker.pki.SslContextHook;
import io.zlayer.worker.pki.TlsEngines;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSessionContext;

/**
 * The worker's TLS sessions, kept across its connections: each node identity has one OpenSSL client
 * context for its life, whose session cache holds the tickets the controllers sent. A reconnect,
 * to the same controller after its restart or to another one of the cluster (they share the ticket
 * keys), offers the latest ticket and resumes instead of paying a full handshake. Sessions are
 * filed under one name for all the cluster's controllers rather than per address, since any of
 * them can decrypt a ticket. With the JDK engine nothing is kept (a new context per connection).
 */
public final class TlsSessions {
  /** The one key the client session cache files every controller's tickets under (no dot: never sent as SNI). */
  static final String CONTROLLERS = "zlayer-controllers";
  static final int CONTROLLERS_PORT = 1;

  private record Kept(String certPem, SslContext context) {
  }

  private final Map<Long, Kept> contexts = new ConcurrentHashMap<>();

  /** Engine options for a channel presenting {@code identity}: its kept context, or a new one kept from now. */
  public SSLEngineOptions engineOptions(Identity identity) {
    SSLEngineOptions preferred = TlsEngines.preferred();
    if (!(preferred instanceof OpenSSLEngineOptions)) {
      return preferred;
    }
    return new SslContextHook(build -> {
      Kept kept = contexts.get(identity.nodeId());
      if (kept != null && kept.certPem().equals(identity.certPem())) {
        return kept.context();
      }
      // A renewed certificate starts over: a session of the old one would present the old certificate.
      SslContext context = new OneSessionKey(build.create());
      contexts.put(identity.nodeId(), new Kept(identity.certPem(), context));
      return context;
    });
  }

  /** Forgets a node's sessions (it left the cluster). */
  public void forget(long nodeId) {
    contexts.remove(nodeId);
  }

  /** A client context whose engines file their sessions under {@link #CONTROLLERS}, whatever address they connect to. */
  private static final class OneSessionKey extends SslContext {
    private final SslContext delegate;

    OneSessionKey(SslContext delegate) {
      this.delegate = delegate;
    }

    @Override
    public boolean isClient() {
      return delegate.isClient();
    }

    @Override
    public List<String> cipherSuites() {
      return delegate.cipherSuites();
    }

    @Override
    public ApplicationProtocolNegotiator applicationProtocolNegotiator() {
      return delegate.applicationProtocolNegotiator();
    }

    @Override
    public SSLEngine newEngine(ByteBufAllocator alloc) {
      return delegate.newEngine(alloc);
    }

    @Override
    public SSLEngine newEngine(ByteBufAllocator alloc, String peerHost, int peerPort) {
      return delegate.newEngine(alloc, CONTROLLERS, CONTROLLERS_PORT);
    }

    @Override
    public SslHandler newHandler(ByteBufAllocator alloc, Executor delegatedTaskExecutor) {
      return delegate.newHandler(alloc, delegatedTaskExecutor);
    }

    @Override
    public SslHandler newHandler(ByteBufAllocator alloc, String peerHost, int peerPort, Executor delegatedTaskExecutor) {
      return delegate.newHandler(alloc, CONTROLLERS, CONTROLLERS_PORT, delegatedTaskExecutor);
    }

    @Override
    public SSLSessionContext sessionContext() {
      return delegate.sessionContext();
    }
  }
}
