package io.zlayer.worker.controller.grpc;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.EmptyHttp2Headers;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.vertx.core.Context;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.grpc.server.GrpcServerRequest;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shrinks what each long-lived gRPC stream and each worker connection keep on the controller: a
 * worker holds one connection with three streams for hours, so every byte per stream counts
 * 30,000 times at 10,000 workers. Each trim was measured with class histograms at 2,000
 * connected workers (BENCHMARKS.md, "memory per worker").
 *
 * <ul>
 * <li>{@link #apply}: each HTTP/2 server stream gets a lazily growing outbound queue. Vert.x 5
 * backs every stream's outbound queue with {@code PlatformDependent.newMpscQueue()}, whose first
 * chunk Netty hard-codes at 1,024 slots (about 4 KiB, ~40 % of the heap per worker). The queue
 * only holds messages while the stream is not writable, so a {@link ConcurrentLinkedQueue} (also
 * multi-producer safe, nothing allocated up front) serves as well. Done on the connection's event
 * loop when the request arrives, before anything was written or handed to another thread.
 * <li>{@link #callCreated}: vertx-grpc reads the request headers (timeout, encoding) when it
 * creates the call; afterwards nothing does, yet the stream and the request kept them (a header
 * set, its 16-bucket array and an adaptor). Both now point at Netty's empty headers.
 * <li>{@link #sharePath}: the stream's path, a fresh string per stream kept by the stream and by
 * vertx-grpc, becomes the method's shared constant.
 * <li>{@link #headWritten}: once the response head has gone out, the response's header set (and
 * its 16-bucket array) is kept for nothing; the response then points at the empty headers.
 * <li>{@link #messageRead}: vertx-grpc keeps the last message read on each call (for
 * {@code last()}); a watch's request and a status stream's latest report are dropped once used.
 * <li>{@link #connectionOpened}: HPACK. The controller's header encoder gets a two-slot index
 * and no dynamic table (the response heads are a few short headers, sent three times per
 * connection), instead of two 64-slot arrays and the indexed entries per connection. It also
 * swaps the connection's queues that stay empty for a worker (Vert.x's settings, ping and push
 * queues, the {@code SslHandler}'s pending writes), allocated at 9 or 17 slots, for minimal ones.
 * </ul>
 *
 * <p>These reach into Vert.x and Netty internals (fields resolved once, by name and type). When
 * they do not match (another version), the controller warns once and leaves the stream as it
 * is: only memory is lost, never a message; {@code StreamFootprintTest} fails on such a version.
 * {@code -Dzlayer.trimStreamQueues=false} turns them all off.
 */
public final class StreamFootprint {
  private static final Logger LOG = LoggerFactory.getLogger(StreamFootprint.class);
  private static final String DISABLE_PROPERTY = "zlayer.trimStreamQueues";
  private static final boolean ENABLED = Boolean.parseBoolean(System.getProperty(DISABLE_PROPERTY, "true"));
  private static final List<String> BROKEN = new ArrayList<>();

  /** request → Http2ServerStream → outbound queue → message passing queue → its {@code Queue}. */
  private static final Field[] PATH = resolve("outbound queue", () -> {
    Class<?> request = Class.forName("io.vertx.core.http.impl.Http2ServerRequest");
    Class<?> stream = Class.forName("io.vertx.core.http.impl.VertxHttp2Stream");
    Class<?> outbound = Class.forName("io.vertx.core.internal.concurrent.OutboundMessageQueue");
    Class<?> passing = Class.forName("io.vertx.core.streams.impl.MessagePassingQueue");
    return new Field[] {
        field(request, "stream", stream),
        field(stream, "outboundQueue", outbound),
        field(outbound, "mqp", passing),
        field(passing, "queue", Queue.class)};
  });

  /** Http2ServerRequest.stream, Http2ServerStream.headers, .uri, Http2ServerRequest.headersMap, VertxHttp2Stream.EMPTY. */
  private static final Field[] REQUEST = resolve("request headers", () -> {
    Class<?> request = Class.forName("io.vertx.core.http.impl.Http2ServerRequest");
    Class<?> stream = Class.forName("io.vertx.core.http.impl.Http2ServerStream");
    Class<?> base = Class.forName("io.vertx.core.http.impl.VertxHttp2Stream");
    return new Field[] {
        field(request, "stream", stream),
        field(stream, "headers", Http2Headers.class),
        field(stream, "uri", String.class),
        field(request, "headersMap", MultiMap.class),
        staticField(base, "EMPTY", MultiMap.class)};
  });

  /** Http2ServerResponse.headers, .headersMap. */
  private static final Field[] RESPONSE = resolve("response headers", () -> {
    Class<?> response = Class.forName("io.vertx.core.http.impl.Http2ServerResponse");
    return new Field[] {
        field(response, "headers", Http2Headers.class),
        field(response, "headersMap", MultiMap.class)};
  });

  /** GrpcReadStreamBase.last. */
  private static final Field[] LAST = resolve("last gRPC message", () -> {
    Class<?> readStream = Class.forName("io.vertx.grpc.common.impl.GrpcReadStreamBase");
    return new Field[] {field(readStream, "last", Class.forName("io.vertx.grpc.common.GrpcMessage"))};
  });

  /** Http2ConnectionBase.handler, DefaultHttp2FrameWriter.headersEncoder, DefaultHttp2HeadersEncoder.tableSizeChangeOutput. */
  private static final Field[] HPACK = resolve("HPACK encoder", () -> {
    Class<?> connection = Class.forName("io.vertx.core.http.impl.Http2ConnectionBase");
    return new Field[] {
        field(connection, "handler", Http2ConnectionHandler.class),
        field(DefaultHttp2FrameWriter.class, "headersEncoder", Http2HeadersEncoder.class),
        field(DefaultHttp2HeadersEncoder.class, "tableSizeChangeOutput", ByteBuf.class)};
  });

  /**
   * Queues each connection allocates at their default size (17 or 9 slots) and that stay empty for
   * a worker's connection: Http2ConnectionBase.updateSettingsHandlers, .pongHandlers,
   * Http2ServerConnection.pendingPushes; SslHandler.pendingUnencryptedWrites → its pairs.
   */
  private static final Field[] QUEUES = resolve("connection queues", () -> {
    Class<?> base = Class.forName("io.vertx.core.http.impl.Http2ConnectionBase");
    Class<?> server = Class.forName("io.vertx.core.http.impl.Http2ServerConnection");
    Class<?> ssl = Class.forName("io.netty.handler.ssl.SslHandler");
    Class<?> coalescing = Class.forName("io.netty.channel.AbstractCoalescingBufferQueue");
    return new Field[] {
        field(base, "updateSettingsHandlers", java.util.ArrayDeque.class),
        field(base, "pongHandlers", java.util.ArrayDeque.class),
        field(server, "pendingPushes", java.util.ArrayDeque.class),
        field(ssl, "pendingUnencryptedWrites", coalescing),
        field(coalescing, "bufAndListenerPairs", java.util.ArrayDeque.class)};
  });

  private StreamFootprint() {
  }

  /** Whether every trim is active on this Vert.x and Netty (tests fail loudly when not). */
  static boolean available() {
    return PATH != null && REQUEST != null && RESPONSE != null && LAST != null && HPACK != null && QUEUES != null;
  }

  /** The trims that did not resolve on this version, with why (empty when {@link #available}). */
  static List<String> unavailable() {
    synchronized (BROKEN) {
      return List.copyOf(BROKEN);
    }
  }

  /**
   * Replaces the stream's pre-allocated outbound queue with a lazy one; a no-op for HTTP/1.x
   * requests, when unavailable, or when the queue already holds messages. Call it on the
   * request's event loop, before replying.
   *
   * @return whether the queue was replaced
   */
  public static boolean apply(HttpServerRequest request) {
    try {
      Object holder = queueHolder(request);
      if (holder == null) {
        return false;
      }
      Field queueField = PATH[PATH.length - 1];
      Queue<?> current = (Queue<?>) queueField.get(holder);
      if (current instanceof ConcurrentLinkedQueue || !current.isEmpty()) {
        return false;
      }
      queueField.set(holder, new ConcurrentLinkedQueue<>());
      return true;
    } catch (IllegalAccessException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Makes the stream's path the shared {@code path} string when it is the same text (call it
   * when the request arrives, before the gRPC call is created: vertx-grpc keeps
   * {@code request.path()}, which is then that string too).
   */
  public static void sharePath(HttpServerRequest request, String path) {
    if (REQUEST == null || !REQUEST[0].getDeclaringClass().isInstance(request)) {
      return;
    }
    try {
      Object stream = REQUEST[0].get(request);
      Object uri = REQUEST[2].get(stream);
      if (uri != path && path.equals(uri)) {
        REQUEST[2].set(stream, path);
      }
    } catch (IllegalAccessException | RuntimeException e) {
      // left as is: memory only
    }
  }

  /**
   * The gRPC call has been created from {@code request} (call it right after
   * {@code GrpcServer#handle}, on the request's event loop): its headers go, and its response's
   * header set goes once the head has been written.
   */
  public static void callCreated(HttpServerRequest request) {
    if (REQUEST == null || !REQUEST[0].getDeclaringClass().isInstance(request)) {
      request.headers().clear();
      return;
    }
    try {
      Object stream = REQUEST[0].get(request);
      REQUEST[1].set(stream, EmptyHttp2Headers.INSTANCE);
      REQUEST[3].set(request, REQUEST[4].get(null));
    } catch (IllegalAccessException | RuntimeException e) {
      request.headers().clear();
    }
    HttpServerResponse response = request.response();
    if (RESPONSE != null && RESPONSE[0].getDeclaringClass().isInstance(response) && !response.headWritten()) {
      // Called just before the head is written; the set is dropped on the next turn of the loop,
      // once it has been handed to the connection (which keeps its own reference until sent).
      Context context = Vertx.currentContext();
      if (context != null) {
        response.headersEndHandler(v -> {
          response.headersEndHandler(null);
          context.runOnContext(x -> headWritten(response));
        });
      }
    }
  }

  /** Drops the header set of a response whose head has been written. */
  static void headWritten(HttpServerResponse response) {
    if (RESPONSE == null || !response.headWritten() || !RESPONSE[0].getDeclaringClass().isInstance(response)) {
      return;
    }
    try {
      RESPONSE[0].set(response, EmptyHttp2Headers.INSTANCE);
      RESPONSE[1].set(response, null);
    } catch (IllegalAccessException | RuntimeException e) {
      // left as is: memory only
    }
  }

  /** The call's last message has been used: vertx-grpc need not keep it (call it on the call's event loop). */
  public static void messageRead(GrpcServerRequest<?, ?> call) {
    if (LAST == null || !LAST[0].getDeclaringClass().isInstance(call)) {
      return;
    }
    try {
      LAST[0].set(call, null);
    } catch (IllegalAccessException | RuntimeException e) {
      // left as is: memory only
    }
  }

  /**
   * Gives a new HTTP/2 connection a small HPACK encoder with no dynamic table (call it from the
   * server's connection handler, before any response). A no-op for HTTP/1.x.
   *
   * @return whether the encoder was replaced
   */
  public static boolean connectionOpened(HttpConnection connection) {
    shrinkQueues(connection);
    if (HPACK == null || !HPACK[0].getDeclaringClass().isInstance(connection)) {
      return false;
    }
    try {
      Http2ConnectionHandler handler = (Http2ConnectionHandler) HPACK[0].get(connection);
      Http2FrameWriter writer = handler.encoder().frameWriter();
      if (!(writer instanceof DefaultHttp2FrameWriter)) {
        return false;
      }
      Http2HeadersEncoder old = (Http2HeadersEncoder) HPACK[1].get(writer);
      if (old instanceof SmallHeadersEncoder) {
        return false;
      }
      SmallHeadersEncoder small = new SmallHeadersEncoder();
      small.maxHeaderListSize(old.configuration().maxHeaderListSize());
      HPACK[1].set(writer, small);
      return true;
    } catch (IllegalAccessException | Http2Exception | RuntimeException e) {
      return false;
    }
  }

  /** Swaps the connection's empty default-size queues for minimal ones (they grow when used). */
  private static void shrinkQueues(HttpConnection connection) {
    if (QUEUES == null || !QUEUES[2].getDeclaringClass().isInstance(connection)) {
      return;
    }
    try {
      for (int i = 0; i < 3; i++) {
        shrink(QUEUES[i], connection);
      }
      io.netty.channel.Channel channel = channelOf(connection);
      io.netty.handler.ssl.SslHandler ssl = channel == null ? null : channel.pipeline().get(io.netty.handler.ssl.SslHandler.class);
      Object pending = ssl == null ? null : QUEUES[3].get(ssl);
      if (pending != null) {
        shrink(QUEUES[4], pending);
      }
    } catch (IllegalAccessException | RuntimeException e) {
      // left as is: memory only
    }
  }

  private static void shrink(Field field, Object owner) throws IllegalAccessException {
    java.util.ArrayDeque<?> current = (java.util.ArrayDeque<?>) field.get(owner);
    if (current != null && current.isEmpty()) {
      field.set(owner, new java.util.ArrayDeque<>(1));
    }
  }

  private static io.netty.channel.Channel channelOf(HttpConnection connection) {
    return connection instanceof io.vertx.core.net.impl.ConnectionBase c ? c.channel() : null;
  }

  /** The connection's queues, in {@link #QUEUES} order, the SslHandler's last (null without TLS) (tests). */
  static Object[] queuesOf(HttpConnection connection) throws IllegalAccessException {
    Object[] out = new Object[4];
    for (int i = 0; i < 3; i++) {
      out[i] = QUEUES[i].get(connection);
    }
    io.netty.channel.Channel channel = channelOf(connection);
    io.netty.handler.ssl.SslHandler ssl = channel == null ? null : channel.pipeline().get(io.netty.handler.ssl.SslHandler.class);
    Object pending = ssl == null ? null : QUEUES[3].get(ssl);
    out[3] = pending == null ? null : QUEUES[4].get(pending);
    return out;
  }

  /** The HPACK encoder in use on {@code connection} (tests). */
  static Http2HeadersEncoder headersEncoderOf(HttpConnection connection) throws IllegalAccessException {
    Http2ConnectionHandler handler = (Http2ConnectionHandler) HPACK[0].get(connection);
    return (Http2HeadersEncoder) HPACK[1].get(handler.encoder().frameWriter());
  }

  /**
   * An encoder with a two-slot index and no dynamic table: the table size it announces (at the
   * start of its first header block) is 0 whatever the peer allows (an encoder may use less than
   * the peer's maximum; RFC 7541, 4.2), so it keeps no entries. The peer's later settings change
   * nothing, and the 256-byte buffer that carried the announcement is released once it was sent.
   */
  static final class SmallHeadersEncoder extends DefaultHttp2HeadersEncoder {
    private boolean announced;

    SmallHeadersEncoder() throws Http2Exception {
      super(Http2HeadersEncoder.NEVER_SENSITIVE, false, 2);
      super.maxHeaderTableSize(0);
    }

    @Override
    public void maxHeaderTableSize(long max) throws Http2Exception {
      if (max < 0 || max > 0xFFFFFFFFL) {
        super.maxHeaderTableSize(max); // its range check and error
      }
      // else: stays 0
    }

    @Override
    public void encodeHeaders(int streamId, Http2Headers headers, ByteBuf buffer) throws Http2Exception {
      super.encodeHeaders(streamId, headers, buffer);
      if (!announced) {
        announced = true;
        try {
          ByteBuf sent = (ByteBuf) HPACK[2].get(this);
          HPACK[2].set(this, null);
          if (sent != null) {
            sent.release();
          }
        } catch (IllegalAccessException | RuntimeException e) {
          // kept: 256 bytes
        }
      }
    }
  }

  /** The outbound queue of the stream behind {@code request} (tests check what backs it). */
  static Queue<?> outboundQueueOf(HttpServerRequest request) throws IllegalAccessException {
    Object holder = queueHolder(request);
    return holder == null ? null : (Queue<?>) PATH[PATH.length - 1].get(holder);
  }

  /** The object whose field holds the stream's queue, or null (HTTP/1.x, trim unavailable). */
  private static Object queueHolder(HttpServerRequest request) throws IllegalAccessException {
    if (PATH == null || !PATH[0].getDeclaringClass().isInstance(request)) {
      return null;
    }
    Object holder = request;
    for (int i = 0; i < PATH.length - 1 && holder != null; i++) {
      holder = PATH[i].get(holder);
    }
    return holder;
  }

  private interface Resolver {
    Field[] fields() throws ReflectiveOperationException;
  }

  private static Field[] resolve(String what, Resolver resolver) {
    if (!ENABLED) {
      LOG.info("HTTP/2 stream trim ({}) disabled by -D{}=false", what, DISABLE_PROPERTY);
      return null;
    }
    try {
      return resolver.fields();
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      synchronized (BROKEN) {
        BROKEN.add(what + ": " + e);
      }
      LOG.warn("HTTP/2 stream trim ({}) unavailable on this Vert.x/Netty ({}); each worker costs more memory",
          what, e.toString());
      return null;
    }
  }

  private static Field field(Class<?> owner, String name, Class<?> type) throws NoSuchFieldException {
    Field f = owner.getDeclaredField(name);
    if (!type.isAssignableFrom(f.getType()) || java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
      throw new NoSuchFieldException(owner.getSimpleName() + "." + name + " is a " + f.getType().getName());
    }
    f.setAccessible(true);
    return f;
  }

  private static Field staticField(Class<?> owner, String name, Class<?> type) throws NoSuchFieldException {
    Field f = owner.getDeclaredField(name);
    if (!type.isAssignableFrom(f.getType()) || !java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
      throw new NoSuchFieldException(owner.getSimpleName() + "." + name + " is a " + f.getType().getName());
    }
    f.setAccessible(true);
    return f;
  }
}
