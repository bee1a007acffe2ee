package io.zlayer.worker.store.etcd;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.vertx.core.http.HttpConnection;
import java.lang.reflect.Field;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lifts Netty's inbound RST_STREAM limit (200 in 30 s, then the connection is closed) from the
 * controller's connections to etcd.
 *
 * <p>Why: etcd (grpc-go) answers a unary call as soon as it has read the request message and, when
 * the client's END_STREAM has not been read yet, ends the stream with RST_STREAM(NO_ERROR). The
 * Vert.x gRPC client sends a request's message and its END_STREAM as two DATA frames, so under load
 * (a registration storm: thousands of txns a second) etcd resets most streams. Netty's client-side
 * guard against a server's rapid resets (meant for hostile peers) then closes the one connection to
 * etcd every few hundred calls, failing every call in flight ("Maximum number of RST frames
 * reached"). etcd is a trusted peer we chose, so its resets are not counted. Vert.x 5.0.7 has no
 * client option for this limit (its server has {@code setHttp2RstFloodMaxRstFramePerWindow}), so the
 * counting listener Netty wrapped around Vert.x's connection is taken out of the decoder, once per
 * connection, by reflection. If a Netty or Vert.x upgrade moves the pieces, a warning is logged once
 * and the limit stays (calls then fail and are retried, as before). {@code EtcdRstAllowanceTest}
 * fails loudly when that happens.
 */
final class EtcdRstAllowance {
  private static final Logger LOG = LoggerFactory.getLogger(EtcdRstAllowance.class);
  private static final AtomicBoolean WARNED = new AtomicBoolean();
  private static final Field DELEGATE = delegateField();
  private static final java.util.concurrent.atomic.AtomicLong LIFTED = new java.util.concurrent.atomic.AtomicLong();

  private EtcdRstAllowance() {
  }

  /** True when the connection's decoder no longer counts inbound resets. */
  static boolean lift(HttpConnection connection) {
    try {
      if (DELEGATE == null || !(connection instanceof Http2FrameListener listener)) {
        return warn("unexpected connection type " + connection.getClass().getName());
      }
      Channel channel = (Channel) connection.getClass().getMethod("channel").invoke(connection);
      Http2ConnectionHandler handler = channel.pipeline().get(Http2ConnectionHandler.class);
      if (handler == null) {
        return warn("no HTTP/2 handler in the pipeline");
      }
      Http2ConnectionDecoder decoder = handler.decoder();
      if (!decoder.getClass().getSimpleName().equals("Http2MaxRstFrameDecoder")) {
        return true; // nothing counts resets on this connection
      }
      Http2ConnectionDecoder inner = (Http2ConnectionDecoder) DELEGATE.get(decoder);
      inner.frameListener(listener);
      LIFTED.incrementAndGet();
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return warn(e.toString());
    }
  }

  /** Connections to etcd whose reset counter was taken out (for the test that guards the reflection). */
  static long lifted() {
    return LIFTED.get();
  }

  private static boolean warn(String why) {
    if (WARNED.compareAndSet(false, true)) {
      LOG.warn("cannot lift Netty's RST_STREAM limit on connections to etcd ({}); under heavy load etcd's resets"
          + " may close them", why);
    }
    return false;
  }

  private static Field delegateField() {
    try {
      Field f = DecoratingHttp2ConnectionDecoder.class.getDeclaredField("delegate");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
