package io.zlayer.worker.controller.grpc;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The worker connections that carry open streams, by node: so a revoked or deregistered
 * node's streams can be cut at once, and so each stream's resources (store watches) are
 * released when the stream ends ({@link #ended}) or, at the latest, when its connection goes
 * away. A connection keeps only its open streams' cleanups: a client that opens and cancels
 * streams on one long-lived connection leaves nothing behind.
 */
public final class OpenStreams {
  /** Usually one connection per node: an array replaced on change (a set per node cost ~200 bytes). */
  private final Map<Long, HttpConnection[]> byNode = new ConcurrentHashMap<>();
  private final Map<HttpConnection, List<Runnable>> cleanups = new ConcurrentHashMap<>();
  /** Connections the worker endpoint holds (every kind: sessions, registrations, legacy polls). */
  private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();

  /**
   * Counts a connection the worker endpoint accepted, until its channel closes; false, and not
   * counted, when {@code max} are held already: the caller closes it at once, and its worker moves
   * on to another controller (see {@code max_connections}).
   */
  public boolean admit(HttpConnection connection, int max) {
    if (!(connection instanceof io.vertx.core.net.impl.ConnectionBase base)) {
      return true;
    }
    if (held.incrementAndGet() > max) {
      held.decrementAndGet();
      return false;
    }
    base.channel().closeFuture().addListener(f -> held.decrementAndGet());
    return true;
  }

  /** Connections held by the worker endpoint now. */
  public int held() {
    return held.get();
  }

  /** Tracks a stream of {@code nodeId} on {@code connection}; {@code cleanup} runs when it closes. */
  public void track(long nodeId, HttpConnection connection, Runnable cleanup) {
    byNode.compute(nodeId, (id, held) -> add(held, connection));
    boolean[] first = {false};
    cleanups.compute(connection, (c, list) -> {
      if (list == null) {
        first[0] = true;
        list = new ArrayList<>(3); // a worker's three streams
      }
      list.add(cleanup);
      return list;
    });
    if (first[0]) {
      connection.closeHandler(v -> closed(nodeId, connection));
    }
  }

  /**
   * The stream whose cleanup is {@code cleanup} ended before its connection (cancelled, reset,
   * answered): the cleanup runs now, once, and the connection forgets it. Idempotent.
   */
  public void ended(HttpConnection connection, Runnable cleanup) {
    boolean[] found = {false};
    // The (possibly empty) list stays: it marks the connection whose close handler is set.
    cleanups.computeIfPresent(connection, (c, list) -> {
      found[0] = list.remove(cleanup);
      return list;
    });
    if (found[0]) {
      cleanup.run();
    }
  }

  private void closed(long nodeId, HttpConnection connection) {
    byNode.computeIfPresent(nodeId, (id, held) -> remove(held, connection));
    List<Runnable> list = cleanups.remove(connection);
    if (list != null) {
      list.forEach(Runnable::run);
    }
  }

  /**
   * Closes every connection of the node; its streams end and their cleanups run. When called on an
   * event loop the close runs on its next turn: a node's own Deregister travels on a connection
   * being cut, and its reply, written in this turn, must leave first.
   */
  public void cut(long nodeId) {
    HttpConnection[] held = byNode.remove(nodeId);
    if (held == null) {
      return;
    }
    List<HttpConnection> set = List.of(held);
    // A graceful shutdown (GOAWAY, then close once the streams in flight end or the grace runs
    // out): the reply to a worker's own Deregister still reaches it, and its watch streams end
    // within the grace.
    Context context = Vertx.currentContext();
    if (context == null) {
      set.forEach(OpenStreams::shutdown);
    } else {
      context.runOnContext(v -> set.forEach(OpenStreams::shutdown));
    }
  }

  private static HttpConnection[] add(HttpConnection[] held, HttpConnection connection) {
    if (held == null) {
      return new HttpConnection[] {connection};
    }
    for (HttpConnection c : held) {
      if (c == connection) {
        return held;
      }
    }
    HttpConnection[] more = java.util.Arrays.copyOf(held, held.length + 1);
    more[held.length] = connection;
    return more;
  }

  /** {@code held} without {@code connection}, or null (the entry goes) when none is left. */
  private static HttpConnection[] remove(HttpConnection[] held, HttpConnection connection) {
    int n = 0;
    HttpConnection[] left = new HttpConnection[held.length];
    for (HttpConnection c : held) {
      if (c != connection) {
        left[n++] = c;
      }
    }
    return n == 0 ? null : n == held.length ? held : java.util.Arrays.copyOf(left, n);
  }

  /** How long a cut connection's streams in flight may take to end before it is closed. */
  static final long CUT_GRACE_MS = 300;

  private static void shutdown(HttpConnection connection) {
    connection.shutdown(CUT_GRACE_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private volatile String leaving;

  /** The reason this controller is stopping, once {@link #drain} began; null while it serves. */
  public String leaving() {
    return leaving;
  }

  /**
   * A graceful stop: from now on new streams are refused with {@code reason}; every open watch
   * stream ends with {@code UNAVAILABLE} and {@code reason} (on its own event loop), then its
   * connection gets GOAWAY and closes once its streams ended or {@code graceMs} passed. Completes
   * when every connection closed (bounded by the grace).
   */
  public io.vertx.core.Future<Void> drain(String reason, long graceMs) {
    leaving = reason;
    List<io.vertx.core.Future<Void>> closed = new ArrayList<>();
    for (HttpConnection connection : cleanups.keySet()) {
      List<Runnable> open = new ArrayList<>();
      cleanups.computeIfPresent(connection, (c, list) -> {
        open.addAll(list); // a copy under the map's lock: the lists change under it
        return list;
      });
      WatchFeed<?> feed = null;
      for (Runnable r : open) {
        if (r instanceof WatchFeed<?> f) {
          feed = f;
          f.farewell(reason);
        }
      }
      io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
      Runnable goAway = () -> connection.shutdown(graceMs, java.util.concurrent.TimeUnit.MILLISECONDS)
          .onComplete(ar -> done.tryComplete());
      if (feed != null) {
        feed.after(goAway); // after the statuses, on the same event loop
      } else {
        goAway.run();
      }
      closed.add(done.future());
    }
    return io.vertx.core.Future.join(closed).<Void>mapEmpty().otherwiseEmpty();
  }

  public int connections() {
    return cleanups.size();
  }

  /** The cleanups held for open streams, over all connections (tests and figures). */
  public int trackedStreams() {
    int n = 0;
    for (HttpConnection c : cleanups.keySet()) {
      List<Runnable> list = cleanups.get(c);
      n += list == null ? 0 : list.size();
    }
    return n;
  }
}
