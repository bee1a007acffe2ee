package io.zlayer.worker.store;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import java.util.List;
import java.util.Optional;

/**
 * The controller's durable state, shaped like etcd so that the embedded SQLite store and the etcd
 * store ({@link io.zlayer.worker.store.etcd.EtcdStore}) are interchangeable: one cluster-wide
 * monotonic revision bumped by every successful write transaction, per-key createRevision/modRevision/version, compare-and-set transactions, prefix
 * ranges and watches from a revision.
 */
public interface Store {

  Future<Optional<KeyValue>> get(String key);

  /** All live keys starting with prefix, sorted by key. */
  Future<List<KeyValue>> range(String prefix);

  /** Live keys starting with prefix whose modRevision > afterRevision, sorted by modRevision ascending, at most limit (limit<=0: no limit). */
  Future<List<KeyValue>> rangeAfter(String prefix, long afterRevision, int limit);

  /** A key and a range read at one revision ({@link #getAndRangeAfter}). */
  record Snapshot(Optional<KeyValue> key, List<KeyValue> range) {
  }

  /**
   * {@link #get} of {@code key} and {@link #rangeAfter} of {@code prefix}, read at one revision in
   * one round trip; empty when this store cannot, and the caller then reads them one after the other.
   */
  default Future<Optional<Snapshot>> getAndRangeAfter(String key, String prefix, long afterRevision, int limit) {
    return Future.succeededFuture(Optional.empty());
  }

  /** Unconditional put; returns the new revision. */
  Future<Long> put(String key, String value);

  /** Deletes the key if present; returns true if it existed. */
  Future<Boolean> delete(String key);

  /**
   * Atomic: if every compare holds, apply all ops in one revision; else nothing. All ops of one txn
   * share one new revision. A txn whose compares hold but that has no ops does not bump the revision.
   * As in etcd, a txn whose ops change nothing (only deletes of absent keys) does not bump it either,
   * and two ops on the same key in one txn are rejected.
   */
  Future<TxnResult> txn(List<Compare> compares, List<Op> ops);

  /** Current store revision (0 for an empty new embedded store; a fresh etcd starts at 1). */
  Future<Long> revision();

  /**
   * Every change to keys under prefix with revision > afterRevision, in revision order, with no gap and
   * no duplicate across the replay/live boundary, delivered on the Vert.x context that called watch().
   * Replays past changes that are still visible (puts of live keys; for the embedded store deletes are
   * not replayed, only live ones; etcd replays its history, or past a compacted revision the current
   * values of the keys changed since, without the deletes), then live changes. Fails
   * {@link Watch#started()} with {@link StoreUnavailableException} when the store cannot be reached.
   */
  Watch watch(String prefix, long afterRevision, Handler<WatchEvent> handler);

  Future<Void> close();

  /**
   * Told how long each commit took, in nanoseconds (a group commit counts once), for the
   * {@code zlayer_store_commit_seconds} histogram. Called on the store's own thread: keep it cheap.
   */
  default void observeCommits(java.util.function.LongConsumer nanos) {
  }
}
