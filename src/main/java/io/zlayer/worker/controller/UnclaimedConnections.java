package io.zlayer.worker.controller;

import io.netty.channel.Channel;
import io.netty.handler.ssl.DelegatingSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.vertx.core.http.HttpConnection;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;

/**
 * Closes a TLS connection that finishes its handshake but does not become an HTTP connection
 * within {@code connection_idle_timeout}. {@link IdleConnections} learns of a connection from
 * the server's connection handler, and Vert.x calls that for HTTP/2 only once the client's
 * preface and first SETTINGS have arrived: a peer that negotiates {@code h2} over ALPN and then
 * says nothing (or half a preface) was never seen, so never closed (found by
 * {@code ConnectionFloodTest}). Each server TLS handler gets a timer at its handshake's end; the
 * connection handler marks the channel {@link #claimed}.
 */
public final class UnclaimedConnections {
  private static final AttributeKey<Boolean> CLAIMED = AttributeKey.valueOf("zlayer.http.claimed");

  private UnclaimedConnections() {
  }

  /**
   * {@code context} whose handlers close their connection {@code timeoutMillis} after the handshake
   * unless claimed by then ({@code -Dzlayer.closeUnclaimed=false}: as built, for a before figure).
   */
  public static SslContext wrap(SslContext context, long timeoutMillis) {
    if (!Boolean.parseBoolean(System.getProperty("zlayer.closeUnclaimed", "true"))) {
      return context;
    }
    return new DelegatingSslContext(context) {
      @Override
      protected void initEngine(SSLEngine engine) {
      }

      @Override
      protected void initHandler(SslHandler handler) {
        handler.handshakeFuture().addListener(done -> {
          if (done.isSuccess() && done.getNow() instanceof Channel channel) {
            channel.eventLoop().schedule(() -> {
              if (channel.isActive() && !Boolean.TRUE.equals(channel.attr(CLAIMED).get())) {
                channel.close();
              }
            }, timeoutMillis, TimeUnit.MILLISECONDS);
          }
        });
      }
    };
  }

  /** Call from the server's connection handler: the connection is HTTP now, {@link IdleConnections} tracks it. */
  public static void claimed(HttpConnection connection) {
    if (connection instanceof io.vertx.core.net.impl.ConnectionBase base) {
      base.channel().attr(CLAIMED).set(Boolean.TRUE);
    }
  }
}
