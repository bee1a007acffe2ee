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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A durable, per-node event log in the store (the assignment log and the command log are two of
 * these). An event's id is the store revision that wrote it: cluster-wide monotonic, so a reader
 * resumes with "everything after revision R" and sees no gap and no duplicate, across controller
 * restarts and, on etcd, across controllers.
 *
 * <p>The log keeps a window of the node's most recent events ({@code history_window}). Older
 * events are folded, by the log's {@link Fold}, into one base record per node (its state through
 * the last folded revision) and deleted, so the store holds at most a window and a state per node:
 * bounded by the fleet, not by its history. A reader that resumes from before the window gets the
 * fold's resync (for assignments: the node's whole desired state, marked as a resync) at the base
 * revision, then the window's events after it.
 */
public final class NodeEventLog {
  /** Events returned by one replay read; a long absence is replayed in pages. */
  public static final int REPLAY_PAGE = 1000;
  /** The default {@code history_window}: events kept per node and log. */
  public static final int DEFAULT_WINDOW = 1000;
  /** Fewest events a window may keep (a resync is one event; the window must hold a page's tail). */
  public static final int MIN_WINDOW = 16;
  /** Most events folded away in one transaction (etcd refuses transactions of more than 128 operations). */
  static final int TRIM_BATCH = 100;
  /** Tries of a replay read that raced a compaction before it gives up (the reader resumes). */
  private static final int READ_TRIES = 5;

  /** What a log keeps of the events that fell out of its window, and what a reader from before it gets. */
  public interface Fold {
    /** The state after {@code event}; may change and return {@code state}. */
    JsonObject apply(JsonObject state, Entry event);

    /** In place of the folded events: entries at revision {@code through} (may be none). */
    List<Entry> resync(long through, JsonObject state);

    /** Keeps nothing (tests of the log alone): a reader from before the window gets the window only. */
    Fold NONE = new Fold() {
      @Override
      public JsonObject apply(JsonObject state, Entry event) {
        return state;
      }

      @Override
      public List<Entry> resync(long through, JsonObject state) {
        return List.of();
      }
    };
  }

  private final Store store;
  private final String name;
  private final Fold fold;
  private final int window;
  private final AtomicLong sequence = new AtomicLong(System.currentTimeMillis() * 1000);
  /** Events appended per node since its last count (a hint of when to compact; absent: unknown). */
  private final Map<Long, Integer> counts = new ConcurrentHashMap<>();
  private final Set<Long> compacting = ConcurrentHashMap.newKeySet();

  public NodeEventLog(Store store, String name) {
    this(store, name, Fold.NONE, DEFAULT_WINDOW);
  }

  public NodeEventLog(Store store, String name, Fold fold, int window) {
    if (window < MIN_WINDOW) {
      throw new IllegalArgumentException("history window must be at least " + MIN_WINDOW + ", got " + window);
    }
    this.store = store;
    this.name = name;
    this.fold = fold;
    this.window = window;
  }

  /** One stored event: its revision and its JSON body. */
  public record Entry(long revision, JsonObject body) {
    static Entry of(KeyValue kv) {
      return new Entry(kv.modRevision(), new JsonObject(kv.value()));
    }
  }

  /** A node's folded history: the state through revision {@code through}. */
  private record Base(long through, JsonObject state, long modRevision) {
    static final Base NONE = new Base(0, new JsonObject(), 0);

    static Base of(Optional<KeyValue> kv) {
      if (kv.isEmpty()) {
        return NONE;
      }
      JsonObject json = new JsonObject(kv.get().value());
      return new Base(json.getLong("through", 0L), json.getJsonObject("state", new JsonObject()), kv.get().modRevision());
    }
  }

  public String prefix(long nodeId) {
    return name + "/" + nodeId + "/";
  }

  /** The key of a node's folded history; outside {@link #prefix} and the log's whole prefix. */
  String baseKey(long nodeId) {
    return name + "-base/" + nodeId;
  }

  /** Events kept per node. */
  public int window() {
    return window;
  }

  /** Appends an event and returns its revision. */
  public Future<Long> append(long nodeId, JsonObject body) {
    Op.Put entry = newEntry(nodeId, body);
    return store.txn(List.of(Compare.absent(entry.key())), List.of(entry))
        .compose(result -> {
          if (!result.succeeded()) {
            return append(nodeId, body);
          }
          appended(nodeId);
          return Future.succeededFuture(result.revision());
        });
  }

  /**
   * A new event as a write to commit with others in one transaction, under {@code Compare.absent}
   * of its key: the key only has to be unique (order comes from the revision); an event whose key
   * collides (a clock stepped back, another controller on the same store) must never be overwritten.
   * Call {@link #appended} once it committed.
   */
  public Op.Put newEntry(long nodeId, JsonObject body) {
    return new Op.Put(prefix(nodeId) + Long.toString(sequence.incrementAndGet(), 36), body.encode());
  }

  /** An event of the node was committed: past its window, its oldest events are folded away (in the background). */
  public void appended(long nodeId) {
    // Unknown (first append since start): count once.
    int count = counts.compute(nodeId, (k, n) -> n == null ? window + 1 : n + 1);
    if (count > window && compacting.add(nodeId)) {
      compact(nodeId).onComplete(ar -> compacting.remove(nodeId));
    }
  }

  /**
   * Folds the node's oldest events into its base until at most {@link #window} remain, in rounds
   * of at most {@link #TRIM_BATCH}. A round that loses a race (another controller compacted) stops;
   * the next append counts again.
   */
  Future<Void> compact(long nodeId) {
    return compact(nodeId, READ_TRIES);
  }

  private Future<Void> compact(long nodeId, int tries) {
    return store.get(baseKey(nodeId)).map(Base::of).compose(base ->
        store.rangeAfter(prefix(nodeId), base.through(), window + 1).compose(kvs -> {
          if (kvs.size() <= window) {
            counts.put(nodeId, kvs.size());
            return Future.succeededFuture();
          }
          int trim = Math.min(kvs.size(), TRIM_BATCH + 1);
          JsonObject state = base.state().copy();
          List<Op> ops = new ArrayList<>(trim + 1);
          long through = base.through();
          for (KeyValue kv : kvs.subList(0, trim)) {
            state = fold.apply(state, Entry.of(kv));
            through = kv.modRevision();
            ops.add(Op.delete(kv.key()));
          }
          ops.add(Op.put(baseKey(nodeId), new JsonObject().put("through", through).put("state", state).encode()));
          Compare unchanged = new Compare(baseKey(nodeId), base.modRevision());
          return store.txn(List.of(unchanged), ops).compose(result -> {
            if (!result.succeeded()) { // compacted meanwhile (another controller): look again
              counts.remove(nodeId);
              return tries > 1 ? compact(nodeId, tries - 1) : Future.<Void>succeededFuture();
            }
            counts.put(nodeId, kvs.size() - trim);
            // A log read to its cap may hold more (a first count after a start): another round.
            return kvs.size() == window + 1 ? compact(nodeId, tries) : Future.<Void>succeededFuture();
          });
        }));
  }

  /**
   * Events after {@code revision}, oldest first, at most {@link #REPLAY_PAGE}; from before the
   * window, the resync first.
   */
  public Future<List<Entry>> after(long nodeId, long revision) {
    return after(nodeId, revision, REPLAY_PAGE);
  }

  /**
   * Events after {@code revision}, oldest first, at most {@code limit} (1..{@link #REPLAY_PAGE});
   * from before the window, the fold's resync (at the base revision) in place of the folded events,
   * then the window's.
   */
  public Future<List<Entry>> after(long nodeId, long revision, int limit) {
    return after(nodeId, revision, Math.max(1, Math.min(limit, REPLAY_PAGE)), READ_TRIES);
  }

  private Future<List<Entry>> after(long nodeId, long revision, int limit, int tries) {
    return store.getAndRangeAfter(baseKey(nodeId), prefix(nodeId), revision, limit).compose(snapshot -> {
      if (snapshot.isEmpty()) {
        return afterInThreeReads(nodeId, revision, limit, tries);
      }
      // One revision: the base and the window agree (a compaction is all or nothing).
      Base base = Base.of(snapshot.get().key());
      List<Entry> page = new ArrayList<>();
      if (revision < base.through()) {
        page.addAll(fold.resync(base.through(), base.state()));
      }
      int events = Math.max(1, limit - page.size());
      for (KeyValue kv : snapshot.get().range()) {
        if (events == 0) {
          break;
        }
        if (kv.modRevision() > base.through()) {
          page.add(Entry.of(kv));
          events--;
        }
      }
      return Future.succeededFuture(page);
    });
  }

  private Future<List<Entry>> afterInThreeReads(long nodeId, long revision, int limit, int tries) {
    return store.get(baseKey(nodeId)).map(Base::of).compose(base -> {
      List<Entry> page = new ArrayList<>();
      long from = revision;
      if (revision < base.through()) {
        page.addAll(fold.resync(base.through(), base.state()));
        from = base.through();
      }
      return store.rangeAfter(prefix(nodeId), from, Math.max(1, limit - page.size())).compose(kvs ->
          // A compaction between the two reads may have folded events of this page away: read again.
          store.get(baseKey(nodeId)).compose(again -> {
            if (Base.of(again).modRevision() != base.modRevision()) {
              return tries > 1 ? afterInThreeReads(nodeId, revision, limit, tries - 1)
                  : Future.failedFuture(new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
                      "the event log of node " + nodeId + " is being compacted; resume from revision " + revision));
            }
            kvs.forEach(kv -> page.add(Entry.of(kv)));
            return Future.succeededFuture(page);
          }));
    });
  }

  /** The stored events of the node (its window), oldest first (operator requests; not a hot path). */
  public Future<List<Entry>> history(long nodeId) {
    return store.rangeAfter(prefix(nodeId), 0, 0).map(kvs -> kvs.stream().map(Entry::of).toList());
  }

  /** The node's state now: its base folded with every event of its window. */
  public Future<JsonObject> state(long nodeId) {
    return store.get(baseKey(nodeId)).map(Base::of).compose(base ->
        store.rangeAfter(prefix(nodeId), base.through(), 0).compose(kvs ->
            store.get(baseKey(nodeId)).compose(again -> {
              if (Base.of(again).modRevision() != base.modRevision()) {
                return state(nodeId); // compacted meanwhile; a compaction is rare and bounded
              }
              JsonObject state = base.state().copy();
              for (KeyValue kv : kvs) {
                state = fold.apply(state, Entry.of(kv));
              }
              return Future.succeededFuture(state);
            })));
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
