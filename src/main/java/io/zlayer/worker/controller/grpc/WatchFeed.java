package io.zlayer.worker.controller.grpc;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.grpc.server.GrpcServerResponse;
import io.zlayer.worker.controller.core.ControlPlaneException;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodePrincipal;
import io.zlayer.worker.store.Watch;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One watch stream's feed, flow-controlled by the stream: a worker that reads slowly, or not at
 * all, costs the controller at most the stream's write queue, never its backlog.
 *
 * <p>A backlog is replayed a page (at most {@link NodeEventLog#REPLAY_PAGE} events) at a time, each
 * page written while the stream is writable (after the stream filled, pages start small and double); a short last page hands over to a live store watch from
 * the last event written. When a write fills the stream's queue (the HTTP/2 window is spent and
 * the queue is past its high-water mark), the live watch is cancelled, so events still on their
 * way are dropped, and the feed waits for the stream to drain; it then resumes from the last
 * event written, by pages from the store. A stream that stays full for the stall limit is cut with
 * RESOURCE_EXHAUSTED ("slow consumer"): the worker resumes from its revision (with a resync when
 * that fell out of the history window). A worker that never reads holds, until its connection
 * goes, the bytes already queued; everything else stays in the store.
 *
 * <p>Runs on the stream's event loop. The feed is its own cleanup ({@link #run} stops it), so a
 * stream costs one object beyond its store watch.
 */
final class WatchFeed<T> implements Runnable, Handler<NodeEventLog.Entry> {
  private static final Logger LOG = LoggerFactory.getLogger(WatchFeed.class);
  private static final int MIN_PAGE = 16;
  /**
   * How long a feed waits for its full stream to drain before it cuts the stream (a worker whose
   * event loop or GC stalls this long is far behind; it resumes from its revision). Tests shorten
   * it with {@code -Dzlayer.slowConsumerStallMs}.
   */
  static final long DEFAULT_STALL_LIMIT_MS = 10_000;
  /** Opens a live watch of a node's log after a revision. */
  interface Live {
    Watch open(NodePrincipal node, long afterRevision, Handler<NodeEventLog.Entry> handler);
  }

  /** Reads one page of a node's log after a revision. */
  interface Pages {
    Future<List<NodeEventLog.Entry>> after(NodePrincipal node, long afterRevision, int limit);
  }

  private final GrpcServerResponse<?, T> response;
  private final Function<NodeEventLog.Entry, T> encode;
  private final NodePrincipal node;
  private final Live live;
  private final Pages pages;
  private final Context context;
  private final OpenStreams streams;
  private final io.vertx.core.http.HttpConnection connection;
  private long last;
  /** The next page's size: a full page at first, small after the stream filled (it drains a window at a time). */
  private int pageSize = NodeEventLog.REPLAY_PAGE;
  private final long stallLimitMs;
  private Watch watch;
  private boolean ended;
  private long stallTimer = -1;
  /** While the store is unreachable: the next read's delay (0 after a read that worked), and its timer. */
  private long retryDelayMs;
  private long retryTimer = -1;

  WatchFeed(GrpcServerResponse<?, T> response, NodePrincipal node, long afterRevision, Function<NodeEventLog.Entry, T> encode,
            Live live, Pages pages, OpenStreams streams, io.vertx.core.http.HttpConnection connection, long stallLimitMs) {
    this.stallLimitMs = stallLimitMs;
    this.response = response;
    this.node = node;
    this.streams = streams;
    this.connection = connection;
    this.last = afterRevision;
    this.encode = encode;
    this.live = live;
    this.pages = pages;
    this.context = Vertx.currentContext();
  }

  /** Starts the feed: the backlog by pages, then live events. */
  WatchFeed<T> start() {
    page();
    return this;
  }

  /** Stops the feed (the stream ended); idempotent. */
  @Override
  public void run() {
    ended = true;
    if (stallTimer >= 0 && context != null) {
      context.owner().cancelTimer(stallTimer);
      stallTimer = -1;
    }
    if (retryTimer >= 0 && context != null) {
      context.owner().cancelTimer(retryTimer);
      retryTimer = -1;
    }
    if (watch != null) {
      watch.cancel();
      watch = null;
    }
  }

  private void page() {
    pages.after(node, last, pageSize).onComplete(ar -> onContext(() -> paged(ar)));
  }

  private void paged(AsyncResult<List<NodeEventLog.Entry>> ar) {
    if (ended) {
      return;
    }
    if (ar.failed()) {
      storeFailed(ar.cause());
      return;
    }
    retryDelayMs = 0;
    List<NodeEventLog.Entry> page = ar.result();
    for (int i = 0; i < page.size(); i++) {
      if (!write(page.get(i))) {
        pageSize = Math.max(MIN_PAGE, 2 * (i + 1)); // about what one drain takes
        awaitDrain();
        return;
      }
    }
    if (page.size() >= pageSize) {
      pageSize = Math.min(NodeEventLog.REPLAY_PAGE, 2 * pageSize);
      page();
    } else {
      watch = live.open(node, last, this);
      Watch opened = watch;
      opened.started().onFailure(e -> onContext(() -> {
        if (watch == opened) {
          storeFailed(e);
        }
      }));
    }
  }

  /** A live event. */
  @Override
  public void handle(NodeEventLog.Entry entry) {
    if (ended || watch == null || entry.revision() <= last) {
      return;
    }
    if (!write(entry)) {
      watch.cancel(); // what is still on its way is dropped, and read again from the store on drain
      watch = null;
      pageSize = MIN_PAGE;
      awaitDrain();
    }
  }

  /** Writes one event; false when the stream's queue is full (the event was written, nothing more may be). */
  private boolean write(NodeEventLog.Entry entry) {
    response.write(encode.apply(entry));
    last = entry.revision();
    return !response.writeQueueFull();
  }

  private void awaitDrain() {
    response.drainHandler(v -> {
      response.drainHandler(null);
      if (stallTimer >= 0) {
        context.owner().cancelTimer(stallTimer);
        stallTimer = -1;
      }
      if (!ended) {
        page();
      }
    });
    if (context != null) {
      stallTimer = context.owner().setTimer(stallLimitMs, t -> {
        stallTimer = -1;
        slowConsumer();
      });
    }
  }

  /**
   * The stream stayed full for the stall limit: the feed ends with RESOURCE_EXHAUSTED (behind the
   * bytes already queued: a worker that reads again reads them, then the status) and the worker
   * resumes from its revision, with a resync if that fell out of the history window.
   */
  private void slowConsumer() {
    if (ended) {
      return;
    }
    response.drainHandler(null);
    LOG.info("node {}: slow consumer: a watch stream not read for {} ms with its queue full; cut at revision {}",
        node.nodeId(), stallLimitMs, last);
    streams.ended(connection, this); // runs run()
    GrpcReplies.fail(response, new ControlPlaneException(ControlPlaneException.Kind.RESOURCE_EXHAUSTED,
        "slow consumer: the stream was not read for " + stallLimitMs + " ms with its queue full;"
            + " resume from revision " + last));
  }

  /**
   * A read or a watch the store refused. While the store is unreachable (etcd down or restarting)
   * the stream stays open and the feed reads again from its last revision, backing off from 250 ms
   * to 5 s: the worker's session and heartbeats go on, and it gets what it missed when the store is
   * back. Any other failure ends the stream (see {@link #unavailable}).
   */
  private void storeFailed(Throwable cause) {
    if (ended) {
      return;
    }
    if (watch != null) {
      watch.cancel();
      watch = null;
    }
    if (context == null || !unreachable(cause)) {
      unavailable();
      return;
    }
    retryDelayMs = retryDelayMs == 0 ? 250 : Math.min(5_000, 2 * retryDelayMs);
    retryTimer = context.owner().setTimer(retryDelayMs, t -> {
      retryTimer = -1;
      if (!ended) {
        page();
      }
    });
  }

  private static boolean unreachable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.zlayer.worker.store.StoreUnavailableException) {
        return true;
      }
    }
    return false;
  }

  /** A feed that cannot read the log must not leave the worker on a silent stream: end it, and the worker resumes. */
  private void unavailable() {
    if (!ended) {
      streams.ended(connection, this); // runs run()
      GrpcReplies.fail(response, new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
          "cannot read the event log; reconnect and resume from revision " + last));
    }
  }

  /**
   * The controller is stopping: the stream ends with {@code UNAVAILABLE} and {@code reason}, so the
   * worker moves to another controller at once (see {@link io.zlayer.worker.bus.Leaving}).
   */
  void farewell(String reason) {
    onContext(() -> {
      if (!ended) {
        streams.ended(connection, this); // runs run()
        GrpcReplies.fail(response, new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
            reason + "; reconnect to another controller and resume from revision " + last));
      }
    });
  }

  /** Runs {@code task} on this feed's event loop, after what is already queued there. */
  void after(Runnable task) {
    if (context == null) {
      task.run();
    } else {
      context.runOnContext(v -> task.run());
    }
  }

  private void onContext(Runnable task) {
    if (context == null || Vertx.currentContext() == context) {
      task.run();
    } else {
      context.runOnContext(v -> task.run());
    }
  }
}
