package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchEvent;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A durable, per-node, append-only event log in the store (the assignment log and the command
 * log are two of these). An event's id is the store revision that wrote it: cluster-wide
 * monotonic, so a reader resumes with "everything after revision R" and sees no gap and no
 * duplicate, across controller restarts and, on etcd, across controllers.
 */
public final class NodeEventLog {
  /** Events returned by one replay read; a long absence is replayed in pages. */
  public static final int REPLAY_PAGE = 1000;

  private final Store store;
  private final String name;
  private final AtomicLong sequence = new AtomicLong(System.currentTimeMillis() * 1000);

  public NodeEventLog(Store store, String name) {
    this.store = store;
    this.name = name;
  }

  /** One stored event: its revision and its JSON body. */
  public record Entry(long revision, JsonObject body) {
    static Entry of(KeyValue kv) {
      return new Entry(kv.modRevision(), new JsonObject(kv.value()));
    }
  }

  public String prefix(long nodeId) {
    return name + "/" + nodeId + "/";
  }

  /** Appends an event and returns its revision. */
  public Future<Long> append(long nodeId, JsonObject body) {
    Op.Put entry = newEntry(nodeId, body);
    return store.txn(List.of(Compare.absent(entry.key())), List.of(entry))
        .compose(result -> result.succeeded() ? Future.succeededFuture(result.revision()) : append(nodeId, body));
  }

  /**
   * A new event as a write to commit with others in one transaction, under {@code Compare.absent}
   * of its key: the key only has to be unique (order comes from the revision); an event whose key
   * collides (a clock stepped back, another controller on the same store) must never be overwritten.
   */
  public Op.Put newEntry(long nodeId, JsonObject body) {
    return new Op.Put(prefix(nodeId) + Long.toString(sequence.incrementAndGet(), 36), body.encode());
  }

  /** Events after {@code revision}, oldest first, at most {@link #REPLAY_PAGE}. */
  public Future<List<Entry>> after(long nodeId, long revision) {
    return after(nodeId, revision, REPLAY_PAGE);
  }

  /** Events after {@code revision}, oldest first, at most {@code limit} (1..{@link #REPLAY_PAGE}). */
  public Future<List<Entry>> after(long nodeId, long revision, int limit) {
    return store.rangeAfter(prefix(nodeId), revision, Math.max(1, Math.min(limit, REPLAY_PAGE)))
        .map(kvs -> kvs.stream().map(Entry::of).toList());
  }

  /** Every stored event of the node, oldest first (operator requests; not a hot path). */
  public Future<List<Entry>> history(long nodeId) {
    return store.rangeAfter(prefix(nodeId), 0, 0).map(kvs -> kvs.stream().map(Entry::of).toList());
  }

  /** Every event after {@code revision}, then live ones, in order, on the caller's context. */
  public Watch watch(long nodeId, long revision, Handler<Entry> handler) {
    return store.watch(prefix(nodeId), revision, (WatchEvent event) -> {
      if (event.type() == WatchEvent.Type.PUT) {
        handler.handle(Entry.of(event.kv()));
      }
    });
  }

  /** Every event of every node after {@code revision}, as (node id, entry), on the caller's context. */
  public Watch watchAll(long revision, java.util.function.BiConsumer<Long, Entry> handler) {
    String all = name + "/";
    return store.watch(all, revision, (WatchEvent event) -> {
      if (event.type() == WatchEvent.Type.PUT) {
        String rest = event.kv().key().substring(all.length());
        int slash = rest.indexOf('/');
        if (slash > 0) {
          handler.accept(Long.parseLong(rest.substring(0, slash)), Entry.of(event.kv()));
        }
      }
    });
  }

  /** The highest revision in the whole store: what a client that is up to date has seen. */
  public Future<Long> currentRevision() {
    return store.revision();
  }
}
