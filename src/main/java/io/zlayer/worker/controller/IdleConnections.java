package io.zlayer.worker.controller;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.zlayer.worker.config.ConnectionLimits;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees the worker endpoint's idle and slow peers. A connection is idle when it has no open
 * request or stream: a TLS peer that never sends a request, an HTTP/1.1 slowloris that never
 * finishes its headers, a kept-alive connection nobody uses. It is closed once idle for
 * {@code connection_idle_timeout}. A worker's connection is never idle while its watch streams
 * are open, however quiet they are (Vert.x's own idle timeout counts bytes and would drop it).
 * A request still arriving after {@code http_request_timeout} is cut (but for client-streaming gRPC calls).
 *
 * <p>State lives on each connection's event loop (one table and one periodic sweep per loop), so
 * no lock is taken; a connection closed by its peer is forgotten at the next sweep that finds it
 * idle. Response handlers are left alone: the sweep reads {@code ended()}/{@code closed()}.
 */
public final class IdleConnections {
  private static final Logger LOG = LoggerFactory.getLogger(IdleConnections.class);

  private final Vertx vertx;
  private final long idleNanos;
  private final long requestNanos;
  private final long sweepMillis;
  private final Map<Context, Loop> loops = new ConcurrentHashMap<>();
  private final RefusalLog log = new RefusalLog(LOG);

  public IdleConnections(Vertx vertx, ConnectionLimits limits) {
    this.vertx = vertx;
    this.idleNanos = limits.idleTimeout().toNanos();
    this.requestNanos = limits.requestTimeout().toNanos();
    this.sweepMillis = Math.max(50, Math.min(limits.idleTimeout().toMillis(), limits.requestTimeout().toMillis()) / 4);
  }

  /** Call from the server's connection handler. */
  public void opened(HttpConnection connection) {
    loop().connections.put(connection, new Tracked(System.nanoTime()));
  }

  /**
   * Call from the server's request handler, before the request is handed on. A
   * {@code clientStreaming} request (a gRPC call whose request side stays open for the session)
   * is not held to the request timeout; every other request, gRPC unary calls included, must have
   * sent all of itself within it. A {@code grpc} request is forgotten as soon as its stream closes.
   */
  public void request(HttpServerRequest request, boolean grpc, boolean clientStreaming) {
    Tracked tracked = loop().connections.computeIfAbsent(request.connection(), c -> new Tracked(System.nanoTime()));
    Live live = new Live(request, System.nanoTime(), clientStreaming);
    tracked.live.add(live);
    if (grpc && request.version() == HttpVersion.HTTP_2) {
      // Forgotten when its stream closes (ended, cancelled, reset), not at the next sweep: a peer
      // opening and cancelling streams in a loop must not pile up requests between sweeps. (Only
      // gRPC calls: the legacy API sets its own close handler on held polls.)
      request.response().closeHandler(v -> {
        tracked.live.remove(live);
        if (tracked.live.isEmpty()) {
          tracked.idleSince = System.nanoTime();
        }
      });
    }
  }

  /** Stops the sweeps. */
  public void close() {
    loops.values().forEach(l -> vertx.cancelTimer(l.timer));
    loops.clear();
  }

  private Loop loop() {
    // Requests run on duplicates of their connection's context: key by the event loop's own one.
    Context context = ((io.vertx.core.internal.ContextInternal) vertx.getOrCreateContext()).unwrap();
    return loops.computeIfAbsent(context, c -> {
      Loop loop = new Loop();
      loop.timer = vertx.setPeriodic(sweepMillis, id -> loop.sweep());
      return loop;
    });
  }

  private record Live(HttpServerRequest request, long since, boolean clientStreaming) {
  }

  private static final class Tracked {
    final List<Live> live = new ArrayList<>(3);
    long idleSince;

    Tracked(long now) {
      this.idleSince = now;
    }
  }

  /** One event loop's connections. */
  private final class Loop {
    final Map<HttpConnection, Tracked> connections = new IdentityHashMap<>();
    long timer;

    void sweep() {
      long now = System.nanoTime();
      for (Iterator<Map.Entry<HttpConnection, Tracked>> it = connections.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<HttpConnection, Tracked> e = it.next();
        HttpConnection connection = e.getKey();
        Tracked tracked = e.getValue();
        boolean hadLive = !tracked.live.isEmpty();
        // A call answered early (a refusal) stays live while its peer is still sending: the request timeout cuts it.
        tracked.live.removeIf(l -> l.request.response().closed() || l.request.response().ended() && l.request.isEnded());
        if (hadLive && tracked.live.isEmpty()) {
          tracked.idleSince = now;
        }
        for (Live l : tracked.live) {
          if (!l.clientStreaming && !l.request.isEnded() && now - l.since > requestNanos) {
            log.refused(peer(connection), "a request still sending its body after the request timeout");
            if (l.request.version() == HttpVersion.HTTP_2) {
              l.request.response().reset(0x8); // CANCEL
            } else {
              connection.close();
            }
          }
        }
        if (tracked.live.isEmpty() && now - tracked.idleSince > idleNanos) {
          it.remove();
          connection.close();
        }
      }
    }
  }

  private static String peer(HttpConnection connection) {
    var address = connection.remoteAddress();
    return address == null ? "unknown peer" : address.hostAddress();
  }
}
