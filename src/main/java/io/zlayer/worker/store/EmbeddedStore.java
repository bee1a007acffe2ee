package io.zlayer.worker.store;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Store} embedded in the controller process: one SQLite file {@code <dir>/state.db} in WAL mode.
 *
 * <p>Threading: every JDBC call runs on the single thread of the shared worker executor
 * {@value #EXECUTOR_NAME} (ordered), never on an event loop. That one thread is also what makes the
 * store linearizable: reads, compare-and-set checks, the revision bump and watcher registration are all
 * serialized, so no SQL-level locking beyond the transaction itself is needed.
 *
 * <p>Durability: with {@code synchronous=FULL} (the default) a write is acknowledged once its commit
 * group's WAL is fsynced, so it survives power loss and OS crashes as well as kill -9. With
 * {@code fsyncEachCommit=false} ({@code synchronous=NORMAL}) it survives kill -9 only: on power loss
 * the last commits may be lost (the database stays consistent). Files are private: see {@link StoreFiles}.
 *
 * <p>The store assumes it is the only writer of the file: watches only see writes made through this
 * instance.
 */
public final class EmbeddedStore implements Store {

  public static final String EXECUTOR_NAME = "zlayer-store";
  private static final Logger log = LoggerFactory.getLogger(EmbeddedStore.class);

  private final Vertx vertx;
  private final WorkerExecutor executor;
  // Connection, statements and pending are touched only on the executor thread.
  private final Connection conn;
  private final PreparedStatement selKv;
  /** A key's revisions without its value: what a transaction's compares and writes need. */
  private final PreparedStatement selMeta;
  private final PreparedStatement upsertKv;
  private final PreparedStatement delKv;
  private final PreparedStatement selRev;
  private final PreparedStatement updRev;
  /** Events of the write transaction in progress; published to watchers only after its commit. */
  private final List<WatchEvent> pending = new ArrayList<>();
  private volatile java.util.function.LongConsumer commitObserver = nanos -> { };
  private final WatcherIndex watchers = new WatcherIndex();
  /** Work for the store thread, in submission order; guarded by itself. */
  private final java.util.ArrayDeque<Job<?>> jobs = new java.util.ArrayDeque<>();
  /** Whether a drain task is queued or running on the executor; guarded by {@link #jobs}. */
  private boolean drainScheduled;
  /** Most writes committed together. */
  private static final int MAX_BATCH = 128;
  /** A batch of writes smaller than this waits {@link #LINGER_NANOS} for more (see {@link #linger}). */
  private static final int LINGER_BELOW = 16;
  private static final long LINGER_NANOS = 2_000_000;
  /** Waits in a row that gathered no write before batches stop waiting for {@link #NO_LINGER_NANOS}. */
  private static final int FRUITLESS_LIMIT = 3;
  private static final long NO_LINGER_NANOS = 100_000_000L;
  /** Store thread only: waits in a row that gathered no write. */
  private int fruitless;
  /** Store thread only: until when batches do not linger (after {@link #FRUITLESS_LIMIT} fruitless waits). */
  private long noLingerUntil;
  /**
   * Store thread only: the revision, as of the transaction in progress; -1 until read from the file
   * (again after a rollback, which puts the file's back).
   */
  private long revision = -1;
  /** SQLite's {@code auto_vacuum} value for INCREMENTAL. */
  private static final int AUTO_VACUUM_INCREMENTAL = 2;
  /** Bytes a checkpointed WAL file is cut back to (it otherwise stays at its largest). */
  private static final long WAL_SIZE_LIMIT = 4L << 20;
  /** Free pages kept for reuse; past this many, the rest go back to the file system. */
  private static final int FREE_PAGES_KEPT = 64;
  /** Keys deleted since the last look at the free pages; store thread only. */
  private int deletedSinceFreeCheck;
  private volatile boolean closed;
  private Future<Void> closeFuture;

  private EmbeddedStore(Vertx vertx, WorkerExecutor executor, Connection conn) throws SQLException {
    this.vertx = vertx;
    this.executor = executor;
    this.conn = conn;
    this.selKv = conn.prepareStatement("SELECT value, create_rev, mod_rev, version FROM kv WHERE key = ?");
    this.selMeta = conn.prepareStatement("SELECT create_rev, mod_rev, version FROM kv WHERE key = ?");
    this.upsertKv = conn.prepareStatement(
        "INSERT OR REPLACE INTO kv(key, value, create_rev, mod_rev, version) VALUES (?, ?, ?, ?, ?)");
    this.delKv = conn.prepareStatement("DELETE FROM kv WHERE key = ?");
    this.selRev = conn.prepareStatement("SELECT revision FROM meta WHERE id = 0");
    this.updRev = conn.prepareStatement("UPDATE meta SET revision = ? WHERE id = 0");
  }

  /**
   * Opens (creating if needed) {@code <dir>/state.db} with synchronous=FULL: an acknowledged write is
   * on disk (it survives power loss, not only kill -9). Group commit keeps the cost small: one fsync
   * per batch of writes queued together (measured in EmbeddedStoreThroughputTest).
   */
  public static Future<EmbeddedStore> open(Vertx vertx, Path dir) {
    return open(vertx, dir, true);
  }

  /**
   * Opens (creating if needed) {@code <dir>/state.db}. {@code fsyncEachCommit} selects synchronous=FULL
   * (survives power loss) instead of NORMAL (survives process crash). Callable from any thread.
   */
  public static Future<EmbeddedStore> open(Vertx vertx, Path dir, boolean fsyncEachCommit) {
    if (vertx == null || dir == null) {
      return Future.failedFuture(new IllegalArgumentException("vertx and dir must not be null"));
    }
    WorkerExecutor executor = vertx.createSharedWorkerExecutor(EXECUTOR_NAME, 1);
    Future<EmbeddedStore> opened = executor.executeBlocking(() -> {
      Path db = StoreFiles.prepare(dir);
      Connection c = DriverManager.getConnection("jdbc:sqlite:" + db.toAbsolutePath());
      try {
        init(c, fsyncEachCommit);
        StoreFiles.restrict(dir);
        return new EmbeddedStore(vertx, executor, c);
      } catch (Exception e) {
        c.close();
        throw e;
      }
    }, true);
    return opened.recover(e -> executor.close().transform(ignored -> Future.failedFuture(e)));
  }

  private static void init(Connection c, boolean fsync) throws SQLException {
    try (Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("PRAGMA journal_mode=WAL")) {
        if (!rs.next() || !"wal".equalsIgnoreCase(rs.getString(1))) {
          throw new SQLException("could not switch state.db to WAL mode");
        }
      }
      s.execute("PRAGMA synchronous=" + (fsync ? "FULL" : "NORMAL"));
      s.execute("PRAGMA busy_timeout=5000");
      // Pages freed by deletes (a log's window moving on) go back to the file system, so the file
      // is as large as what is stored, not as its history was (see compactFreePages).
      s.execute("PRAGMA journal_size_limit=" + WAL_SIZE_LIMIT);
      try (ResultSet rs = s.executeQuery("PRAGMA auto_vacuum")) {
        if (rs.next() && rs.getInt(1) != AUTO_VACUUM_INCREMENTAL) {
          s.execute("PRAGMA auto_vacuum=INCREMENTAL");
          s.execute("VACUUM"); // a store made by an older version: once, to switch the mode
        }
      }
      c.setAutoCommit(false);
      s.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
          + " create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL)");
      s.execute("CREATE INDEX IF NOT EXISTS kv_mod_rev ON kv(mod_rev)");
      s.execute("CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0),"
          + " revision INTEGER NOT NULL)");
      s.execute("INSERT OR IGNORE INTO meta(id, revision) VALUES (0, 0)");
      c.commit();
    } catch (SQLException e) {
      if (!c.getAutoCommit()) {
        c.rollback();
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Future<Optional<KeyValue>> get(String key) {
    String bad = StoreArgs.badKey(key);
    return bad != null ? illegal(bad) : onDb(() -> Optional.ofNullable(readKv(key)));
  }

  @Override
  public Future<List<KeyValue>> range(String prefix) {
    return prefix == null ? illegal("prefix must not be null") : onDb(() -> query(prefix, -1, 0, false));
  }

  @Override
  public Future<List<KeyValue>> rangeAfter(String prefix, long afterRevision, int limit) {
    return prefix == null ? illegal("prefix must not be null")
        : onDb(() -> query(prefix, afterRevision, limit, true));
  }

  @Override
  public Future<Long> revision() {
    return onDb(this::readRevision);
  }

  // ---------------------------------------------------------------- writes

  @Override
  public Future<Long> put(String key, String value) {
    return txn(List.of(), List.of(Op.put(key, value))).map(TxnResult::revision);
  }

  @Override
  public Future<Boolean> delete(String key) {
    String bad = StoreArgs.badKey(key);
    if (bad != null) {
      return illegal(bad);
    }
    return onDbWrite(() -> apply(List.of(), List.of(Op.delete(key))).changed > 0);
  }

  @Override
  public Future<TxnResult> txn(List<Compare> compares, List<Op> ops) {
    String bad = StoreArgs.validate(compares, ops);
    if (bad != null) {
      return illegal(bad);
    }
    List<Compare> cs = List.copyOf(compares);
    List<Op> os = List.copyOf(ops);
    return onDbWrite(() -> {
      Outcome o = apply(cs, os);
      return new TxnResult(o.succeeded, o.revision);
    });
  }

  private record Outcome(boolean succeeded, long revision, int changed) {}

  /** A key's revisions (no value); {@link #ABSENT} for a key that is not there. */
  private record Meta(long createRevision, long modRevision, long version) {}

  private static final Meta ABSENT = new Meta(0, 0, 0);

  /**
   * Runs on the executor thread inside the SQL transaction that {@link #onDb} commits. Each key is
   * read once per transaction, without its value (a registration compares and writes the same two
   * keys: reading them again for the writes, values and all, took two more queries per registration).
   */
  private Outcome apply(List<Compare> compares, List<Op> ops) throws SQLException {
    long rev = readRevision();
    java.util.Map<String, Meta> seen = new java.util.HashMap<>();
    for (Compare c : compares) {
      if (meta(c.key(), seen).modRevision() != c.modRevision()) {
        return new Outcome(false, rev, 0);
      }
    }
    long next = rev + 1;
    int changed = 0;
    for (Op op : ops) {
      Meta cur = meta(op.key(), seen);
      if (op instanceof Op.Put p) {
        // ABSENT's version is 0: a new key starts at version 1
        KeyValue kv = new KeyValue(p.key(), p.value(), cur == ABSENT ? next : cur.createRevision(), next,
            cur.version() + 1);
        seen.put(kv.key(), new Meta(kv.createRevision(), kv.modRevision(), kv.version()));
        upsertKv.setString(1, kv.key());
        upsertKv.setString(2, kv.value());
        upsertKv.setLong(3, kv.createRevision());
        upsertKv.setLong(4, kv.modRevision());
        upsertKv.setLong(5, kv.version());
        upsertKv.executeUpdate();
        pending.add(new WatchEvent(WatchEvent.Type.PUT, kv));
        changed++;
      } else if (cur != ABSENT) {
        delKv.setString(1, op.key());
        delKv.executeUpdate();
        seen.put(op.key(), ABSENT);
        deletedSinceFreeCheck++;
        pending.add(new WatchEvent(WatchEvent.Type.DELETE, new KeyValue(op.key(), null, 0, next, 0)));
        changed++;
      }
    }
    // etcd: a txn that changes nothing (no ops, or only deletes of absent keys) keeps the revision.
    if (changed == 0) {
      return new Outcome(true, rev, 0);
    }
    updRev.setLong(1, next);
    updRev.executeUpdate();
    revision = next;
    return new Outcome(true, next, changed);
  }

  // ---------------------------------------------------------------- watches

  @Override
  public Watch watch(String prefix, long afterRevision, Handler<WatchEvent> handler) {
    if (prefix == null || handler == null) {
      throw new IllegalArgumentException("prefix and handler must not be null");
    }
    StoreWatcher w = new StoreWatcher(prefix, vertx.getOrCreateContext(), handler, watchers);
    // Replay and registration run in one task on the single store thread, so no write can commit
    // between the replay snapshot and the moment the watcher starts receiving live events: this is
    // the "register, buffer, replay, drain" handshake with an empty buffer by construction. The floor
    // still guards against duplicates should that ever change.
    onDb(() -> {
      if (w.cancelled) {
        return null;
      }
      List<KeyValue> past = query(prefix, afterRevision, 0, true);
      w.floor = Math.max(afterRevision, readRevision());
      watchers.add(w);
      if (!past.isEmpty()) {
        List<WatchEvent> events = new ArrayList<>(past.size());
        past.forEach(kv -> events.add(new WatchEvent(WatchEvent.Type.PUT, kv)));
        w.deliver(events);
      }
      return null;
    }).onComplete(ar -> {
      if (ar.succeeded()) {
        w.started.tryComplete();
      } else {
        log.error("watch on prefix '{}' from revision {} could not start", prefix, afterRevision, ar.cause());
        w.cancel();
        w.started.tryFail(ar.cause());
      }
    });
    return w;
  }

  /** Publishes a committed transaction's events; runs on the store thread right after commit. */
  private void publish(List<WatchEvent> events) {
    java.util.Map<StoreWatcher, List<WatchEvent>> byWatcher = new java.util.LinkedHashMap<>();
    for (WatchEvent e : events) {
      for (StoreWatcher w : watchers.matching(e.kv().key())) {
        if (e.kv().modRevision() > w.floor) {
          byWatcher.computeIfAbsent(w, x -> new ArrayList<>()).add(e);
        }
      }
    }
    byWatcher.forEach(StoreWatcher::deliver);
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public synchronized Future<Void> close() {
    if (closeFuture == null) {
      synchronized (jobs) {
        closed = true;
      }
      watchers.all().forEach(StoreWatcher::cancel);
      // Ordered: tasks already queued finish first; SQLite checkpoints the WAL on last close.
      closeFuture = executor.<Void>executeBlocking(() -> {
        drain(); // work submitted before close() still runs
        synchronized (conn) {
          compactFreePages(0); // at rest, the file holds what is stored and no more
          for (Statement s : List.of(selKv, selMeta, upsertKv, delKv, selRev, updRev)) {
            s.close();
          }
          conn.close();
        }
        return null;
      }, true).eventually(executor::close);
    }
    return closeFuture;
  }

  // ---------------------------------------------------------------- helpers (store thread)

  /**
   * Runs a read (or a watch's replay and registration) on the store thread in a transaction of
   * its own: commit on success (which also ends read snapshots, so WAL checkpoints are not held
   * back), rollback on failure.
   */
  private <T> Future<T> onDb(Callable<T> work) {
    return submit(work, false);
  }

  /**
   * Runs a write on the store thread. Writes queued together commit in one SQL transaction (group
   * commit: one WAL append for the lot instead of one each); should one fail, the others run again
   * without it (see {@link #runBatch}). Callers hear of a write, and watchers of its events, only
   * after the commit succeeded.
   */
  private <T> Future<T> onDbWrite(Callable<T> work) {
    return submit(work, true);
  }

  /** A write job of the tests' own, batched with the store's writes as theirs are. */
  <T> Future<T> writeForTest(Callable<T> work) {
    return onDbWrite(work);
  }

  private <T> Future<T> submit(Callable<T> work, boolean write) {
    // The caller's continuation runs on the caller's context, never on the store thread.
    Context caller = vertx.getOrCreateContext();
    Promise<T> promise = Promise.promise();
    boolean schedule;
    synchronized (jobs) {
      // Checked under the lock close() takes: a job is either queued before the close task
      // (which drains it) or refused.
      if (closed) {
        return Future.failedFuture(new IllegalStateException("store is closed"));
      }
      jobs.add(new Job<>(work, write, caller, promise));
      schedule = !drainScheduled;
      drainScheduled = true;
    }
    if (schedule) {
      try {
        executor.executeBlocking(() -> {
          drain();
          return null;
        }, true);
      } catch (RuntimeException e) { // the executor refused (Vert.x shutting down): fail what waits
        failQueued(e);
      }
    }
    return promise.future();
  }

  private void failQueued(Throwable cause) {
    List<Job<?>> dropped;
    synchronized (jobs) {
      dropped = new ArrayList<>(jobs);
      jobs.clear();
      drainScheduled = false;
    }
    dropped.forEach(job -> job.complete(null, cause));
  }

  /** Work queued for the store thread. */
  private record Job<T>(Callable<T> work, boolean write, Context caller, Promise<T> promise) {
    void complete(Object result, Throwable failure) {
      if (Vertx.currentContext() == caller) {
        settle(result, failure);
      } else {
        caller.runOnContext(v -> settle(result, failure));
      }
    }

    private void settle(Object result, Throwable failure) {
      if (failure != null) {
        promise.fail(failure);
      } else {
        @SuppressWarnings("unchecked")
        T value = (T) result;
        promise.complete(value);
      }
    }
  }

  /** On the store thread: runs queued jobs until none is left; consecutive writes as one batch. */
  private void drain() {
    while (true) {
      List<Job<?>> batch = new ArrayList<>();
      synchronized (jobs) {
        Job<?> first = jobs.poll();
        if (first == null) {
          drainScheduled = false;
          return;
        }
        batch.add(first);
        takeWrites(batch);
      }
      if (batch.get(0).write() && batch.size() < LINGER_BELOW
          && (fruitless < FRUITLESS_LIMIT || System.nanoTime() >= noLingerUntil)) {
        linger(batch);
      }
      try {
        runBatch(batch);
      } catch (Throwable t) { // runBatch completes every job itself; this is the last resort
        for (Job<?> job : batch) {
          job.complete(null, t);
        }
        failQueued(t);
        throw t;
      }
    }
  }

  /** Adds the writes at the head of the queue to a batch of writes; caller holds {@link #jobs}. */
  private void takeWrites(List<Job<?>> batch) {
    while (batch.get(0).write() && batch.size() < MAX_BATCH && jobs.peek() != null && jobs.peek().write()) {
      batch.add(jobs.poll());
    }
  }

  /**
   * Group commit under a stream of writes: waits {@link #LINGER_NANOS} for more writes to join a
   * small batch. In a registration storm writes come every few hundred microseconds and most
   * batches held one or two writes, each batch paying a commit of its own (WAL pages, an fsync, a
   * wake-up of this thread). {@link #FRUITLESS_LIMIT} waits in a row that gathered nothing (one
   * writer at a time, each waiting for its answer; or writes far apart) switch the waiting off
   * for {@link #NO_LINGER_NANOS}, after which one more fruitless wait switches it off again: such
   * writers pay the wait once in a while at most. The wait parks the thread: no CPU.
   */
  private void linger(List<Job<?>> batch) {
    int before = batch.size();
    java.util.concurrent.locks.LockSupport.parkNanos(LINGER_NANOS);
    synchronized (jobs) {
      takeWrites(batch);
    }
    if (batch.size() > before) {
      fruitless = 0;
    } else if (++fruitless >= FRUITLESS_LIMIT) {
      noLingerUntil = System.nanoTime() + NO_LINGER_NANOS;
    }
  }

  @Override
  public void observeCommits(java.util.function.LongConsumer nanos) {
    commitObserver = nanos;
  }

  /**
   * Runs a batch in one SQL transaction. Should one of several jobs fail (or their commit), none
   * of them happened: the transaction is rolled back and each runs again in a transaction of its
   * own, so that only the failing one fails. (A savepoint per job did the same at two more SQL
   * statements per job, paid by every batch to save a rare failure's second run.)
   */
  private void runBatch(List<Job<?>> batch) {
    if (!runTogether(batch)) {
      for (Job<?> job : batch) {
        runTogether(List.of(job));
      }
    }
  }

  /**
   * Runs the jobs and commits them. Returns false, having completed none, when a job of several
   * failed or their commit did (all rolled back); otherwise completes every job and returns true.
   */
  private boolean runTogether(List<Job<?>> batch) {
    Object[] results = new Object[batch.size()];
    Throwable failure = null;
    // The executor has one thread; the lock only matters if a same-named executor was made larger.
    synchronized (conn) {
      try {
        if (conn.isClosed()) {
          throw new IllegalStateException("store is closed");
        }
        for (int i = 0; i < batch.size(); i++) {
          results[i] = batch.get(i).work().call();
        }
        long commitStart = System.nanoTime();
        conn.commit();
        commitObserver.accept(System.nanoTime() - commitStart);
        if (deletedSinceFreeCheck > 0) {
          deletedSinceFreeCheck = 0;
          compactFreePages(FREE_PAGES_KEPT);
        }
      } catch (Exception | Error e) { // an Error too: the job fails, the store goes on
        failure = e;
        pending.clear();
        revision = -1;
        try {
          if (!conn.isClosed()) {
            conn.rollback();
          }
        } catch (SQLException re) {
          e.addSuppressed(re);
        }
        if (batch.size() > 1) {
          return false;
        }
      }
    }
    if (failure == null && !pending.isEmpty()) {
      List<WatchEvent> events = List.copyOf(pending);
      pending.clear();
      try {
        publish(events);
      } catch (RuntimeException e) { // a watcher's fault must not fail writes that are committed
        log.error("could not deliver {} committed store event(s) to watchers", events.size(), e);
      }
    }
    for (int i = 0; i < batch.size(); i++) {
      batch.get(i).complete(results[i], failure);
    }
    return true;
  }

  /**
   * Gives free pages past {@code kept} back to the file system (incremental vacuum),
   * so that deleted history does not keep the file at its largest. A failure here fails no write.
   */
  private void compactFreePages(int kept) {
    try (Statement s = conn.createStatement()) {
      int free;
      try (ResultSet rs = s.executeQuery("PRAGMA freelist_count")) {
        free = rs.next() ? rs.getInt(1) : 0;
      }
      if (free > kept) {
        // The driver steps a pragma once, and each step frees one page: one page per call.
        try (PreparedStatement one = conn.prepareStatement("PRAGMA incremental_vacuum(1)")) {
          for (int i = free - kept; i > 0; i--) {
            one.execute();
          }
        }
        conn.commit();
      }
    } catch (SQLException e) {
      log.warn("store: could not release free pages: {}", e.toString());
      try {
        conn.rollback();
      } catch (SQLException ignored) {
        // the next write's transaction starts clean or fails on its own
      }
    }
  }

  /** The store's revision: read from the file once, then kept (this thread is the file's only writer). */
  private long readRevision() throws SQLException {
    if (revision >= 0) {
      return revision;
    }
    try (ResultSet rs = selRev.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("meta row missing in state.db");
      }
      return revision = rs.getLong(1);
    }
  }

  /** {@code key}'s revisions, read once per transaction ({@code seen} holds what this one read or wrote). */
  private Meta meta(String key, java.util.Map<String, Meta> seen) throws SQLException {
    Meta known = seen.get(key);
    if (known != null) {
      return known;
    }
    selMeta.setString(1, key);
    Meta m;
    try (ResultSet rs = selMeta.executeQuery()) {
      m = rs.next() ? new Meta(rs.getLong(1), rs.getLong(2), rs.getLong(3)) : ABSENT;
    }
    seen.put(key, m);
    return m;
  }

  private KeyValue readKv(String key) throws SQLException {
    selKv.setString(1, key);
    try (ResultSet rs = selKv.executeQuery()) {
      return rs.next() ? new KeyValue(key, rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4)) : null;
    }
  }

  /** Prefix scan as a key interval [prefix, prefixEnd) so the primary-key index is used. */
  private List<KeyValue> query(String prefix, long afterRevision, int limit, boolean byModRev)
      throws SQLException {
    String end = StoreArgs.prefixEnd(prefix);
    String sql = "SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key >= ?"
        + (end != null ? " AND key < ?" : "") + " AND mod_rev > ?"
        + (byModRev ? " ORDER BY mod_rev, key" : " ORDER BY key") + " LIMIT ?";
    try (PreparedStatement ps = conn.prepareStatement(sql)) {
      int i = 1;
      ps.setString(i++, prefix);
      if (end != null) {
        ps.setString(i++, end);
      }
      ps.setLong(i++, afterRevision);
      ps.setInt(i, limit <= 0 ? -1 : limit);
      List<KeyValue> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new KeyValue(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
        }
      }
      return out;
    }
  }

  private static <T> Future<T> illegal(String message) {
    return Future.failedFuture(new IllegalArgumentException(message));
  }
}
