package io.zlayer.worker.controller.grpc;

import io.vertx.core.http.HttpServerRequest;
import java.lang.reflect.Field;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shrinks what each long-lived gRPC stream keeps on the controller: a worker holds three for
 * hours, so every byte per stream counts 30,000 times at 10,000 workers.
 *
 * <p>{@link #dropRequestHeaders}: vertx-grpc reads the request headers (timeout, encoding) when
 * it creates the call; afterwards nothing does, yet the HTTP/2 stream keeps them.
 *
 * <p>{@link #apply}: gives each HTTP/2 server stream a lazily growing outbound queue.
 *
 * <p>Vert.x 5 backs every HTTP/2 stream's outbound message queue with
 * {@code PlatformDependent.newMpscQueue()}, whose first chunk Netty hard-codes at 1,024 slots
 * (about 4 KiB). A worker holds three long-lived streams, so at 10,000 workers that is ~120 MiB
 * of empty slots: about 40 % of the controller's heap per worker. The queue only ever holds
 * messages while the stream is not writable, so a {@link ConcurrentLinkedQueue} (also
 * multi-producer safe, a node per queued message, nothing allocated up front) serves it as
 * well.
 *
 * <p>The swap reaches into Vert.x internals (a chain of four fields, resolved once). It is done
 * on the connection's event loop when the request arrives, before anything was written to the
 * stream and before the request is handed to any other thread, so every later producer sees the
 * new queue. When the internals do not match (another Vert.x version), it warns once and does
 * nothing: only memory is lost, never a message; {@code StreamFootprintTest} fails on such a version. {@code -Dzlayer.trimStreamQueues=false} turns
 * it off.
 */
public final class StreamFootprint {
  private static final Logger LOG = LoggerFactory.getLogger(StreamFootprint.class);
  private static final String DISABLE_PROPERTY = "zlayer.trimStreamQueues";

  /** request → Http2ServerStream → outbound queue → message passing queue → its {@code Queue}. */
  private static final Field[] PATH = resolve();

  private StreamFootprint() {
  }

  /** Whether trimming is active on this Vert.x version. */
  static boolean available() {
    return PATH != null;
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
   * Empties the request's headers once the gRPC call has been created from them (call it right
   * after {@code GrpcServer#handle}, on the request's event loop).
   */
  public static void dropRequestHeaders(HttpServerRequest request) {
    request.headers().clear();
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

  private static Field[] resolve() {
    if (!Boolean.parseBoolean(System.getProperty(DISABLE_PROPERTY, "true"))) {
      LOG.info("HTTP/2 stream queue trim disabled by -D{}=false", DISABLE_PROPERTY);
      return null;
    }
    try {
      Class<?> request = Class.forName("io.vertx.core.http.impl.Http2ServerRequest");
      Class<?> stream = Class.forName("io.vertx.core.http.impl.VertxHttp2Stream");
      Class<?> outbound = Class.forName("io.vertx.core.internal.concurrent.OutboundMessageQueue");
      Class<?> passing = Class.forName("io.vertx.core.streams.impl.MessagePassingQueue");
      Field[] path = {
          field(request, "stream", stream),
          field(stream, "outboundQueue", outbound),
          field(outbound, "mqp", passing),
          field(passing, "queue", Queue.class)};
      return path;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warn("HTTP/2 stream queue trim unavailable on this Vert.x ({}); each gRPC stream keeps a 4 KiB queue",
          e.toString());
      return null;
    }
  }

  private static Field field(Class<?> owner, String name, Class<?> type) throws NoSuchFieldException {
    Field f = owner.getDeclaredField(name);
    if (!type.isAssignableFrom(f.getType())) {
      throw new NoSuchFieldException(owner.getSimpleName() + "." + name + " is a " + f.getType().getName());
    }
    f.setAccessible(true);
    return f;
  }
}
