package io.zlayer.worker.store.etcd;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.DecoratingHttp2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.vertx.core.http.HttpConnection;
import java.lang.reflect.Field;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lifts Netty's two RST_STREAM limits (each 200 in 30 s, then the connection is closed) from the
 * controller's connections to etcd: on resets received, and on resets sent (see {@link #liftSent}).
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
  private static final Field DELEGATE = field(DecoratingHttp2ConnectionDecoder.class, "delegate");
  private static final Field ENCODER_DELEGATE = field(DecoratingHttp2ConnectionEncoder.class, "delegate");
  private static final Field SENT_LIMIT = field(limitEncoderClass(), "maxRstFramesPerWindow");
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
      boolean sent = liftSent(handler.encoder());
      Http2ConnectionDecoder decoder = handler.decoder();
      if (!decoder.getClass().getSimpleName().equals("Http2MaxRstFrameDecoder")) {
        if (sent) {
          LIFTED.incrementAndGet();
        }
        return sent; // nothing counts received resets on this connection
      }
      Http2ConnectionDecoder inner = (Http2ConnectionDecoder) DELEGATE.get(decoder);
      Http2FrameListener unwrapped = decoder.frameListener(); // the decorator's getter unwraps its counter
      inner.frameListener(unwrapped != null ? unwrapped : listener);
      LIFTED.incrementAndGet();
      return sent;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return warn(e.toString());
    }
  }

  /**
   * Netty also counts the resets this side sends with an error code other than CANCEL and NO_ERROR
   * ({@code Http2MaxRstFrameLimitEncoder}, 200 in 30 s, against "MadeYouReset"). A client that gave
   * up on a slow call (its deadline) sends CANCEL, and etcd's late answer on that closed stream is
   * then refused with RST_STREAM(STREAM_CLOSED): counted. When etcd is slow for a few seconds,
   * hundreds of late answers arrive at once and Netty closed the connection, failing every call in
   * flight on it (the failed 10,000-worker etcd bench of session 5). The counter's limit is raised
   * out of reach on connections to etcd.
   */
  private static boolean liftSent(Http2ConnectionEncoder encoder) throws ReflectiveOperationException {
    Object e = encoder;
    for (int depth = 0; depth < 8 && e instanceof DecoratingHttp2ConnectionEncoder; depth++) {
      if (e.getClass().getSimpleName().equals("Http2MaxRstFrameLimitEncoder")) {
        if (SENT_LIMIT == null) {
          return warn("Http2MaxRstFrameLimitEncoder has no field maxRstFramesPerWindow");
        }
        SENT_LIMIT.setInt(e, Integer.MAX_VALUE);
        return true;
      }
      e = ENCODER_DELEGATE == null ? null : ENCODER_DELEGATE.get(e);
    }
    return true; // nothing counts sent resets on this connection
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

  private static Class<?> limitEncoderClass() {
    try {
      return Class.forName("io.netty.handler.codec.http2.Http2MaxRstFrameLimitEncoder");
    } catch (ClassNotFoundException e) {
      return null;
    }
  }

  private static Field field(Class<?> type, String name) {
    if (type == null) {
      return null;
    }
    try {
      Field f = type.getDeclaredField(name);
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
