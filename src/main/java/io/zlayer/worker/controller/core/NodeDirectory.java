package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.Op;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's view of every node: the durable records (read through from the store at
 * start and kept current on every write this controller makes) and each node's last status
 * report, which lives in memory only.
 */
public final class NodeDirectory {
  private final Store store;
  private final Clock clock;
  private final Map<Long, NodeRecord> nodes = new ConcurrentHashMap<>();
  private final Map<Long, StatusReport> lastStatus = new ConcurrentHashMap<>();
  private final AtomicLong highestId = new AtomicLong();
  /** Ids proposed to registrations that were then refused, smallest first (see {@link #release}). */
  private final java.util.concurrent.ConcurrentSkipListSet<Long> unused = new java.util.concurrent.ConcurrentSkipListSet<>();
  private final KeyedQueue<Long> updates = new KeyedQueue<>();
  private final Map<String, Long> certificates = new ConcurrentHashMap<>();
  /**
   * The store revision (modRevision) of each node's record we hold: every write compares it
   * (compare-and-set), so two controllers never overwrite each other's change of a record blindly;
   * while {@link #follow following}, it also tells our own writes from others'.
   */
  private final Map<Long, Long> revisions = new ConcurrentHashMap<>();
  private volatile boolean following;
  /** Hears of records another controller changed (set by {@link #follow}). */
  private volatile java.util.function.BiConsumer<NodeRecord, NodeRecord> changedElsewhere = (a, b) -> { };
  /** Attempts of one write that finds the record changed by another controller each time. */
  static final int MAX_WRITE_ATTEMPTS = 3;
  private final Map<Long, java.util.Deque<CommandResult>> commandResults = new ConcurrentHashMap<>();
  /** The highest node id handed out before a collection (see {@link #collectDeregistered}). */
  static final String ID_FLOOR_KEY = "meta/node_id_floor";
  /** Ids at or below it are never proposed unless in use (see {@link #proposeId}). */
  private volatile long collectedFloor;
  private final List<java.util.function.LongConsumer> collectedListeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  /** Command outcomes kept per node for the operator's view. */
  private static final int KEPT_COMMAND_RESULTS = 10;

  private static final Logger LOG = LoggerFactory.getLogger(NodeDirectory.class);

  public NodeDirectory(Store store, Clock clock) {
    this.store = store;
    this.clock = clock;
  }

  /** Loads every stored node, and where node ids continue after collected ones. */
  public Future<NodeDirectory> load() {
    long t0 = System.nanoTime();
    return store.get(ID_FLOOR_KEY).compose(floor -> {
      floor.ifPresent(kv -> {
        collectedFloor = Long.parseLong(kv.value().trim());
        reserve(collectedFloor);
      });
      return store.range(NodeRecord.PREFIX);
    }).map(kvs -> {
      for (KeyValue kv : kvs) {
        NodeRecord record = NodeRecord.fromJson(new JsonObject(kv.value()), clock.instant().getEpochSecond());
        cache(record);
        revisions.merge(record.nodeId(), kv.modRevision(), Math::max);
      }
      // A restart's first step: with many nodes, what an operator waits for before the listener is up.
      LOG.info("loaded {} node record(s) from the store in {} ms", kvs.size(), (System.nanoTime() - t0) / 1_000_000);
      return this;
    });
  }

  /**
   * Forgets every node deregistered at or before {@code deregisteredBy} (epoch seconds), in memory
   * and in the store, and returns their ids (the event log keeps their history). No node is
   * given a collected id again, not even one asking for it ({@code desired_node_id}): the
   * highest id given so far is stored first, and {@link #load} continues from it.
   */
  public Future<List<Long>> collectDeregistered(long deregisteredBy) {
    List<Long> ids = nodes.values().stream()
        .filter(n -> n.state() == NodeState.DEREGISTERED && n.stateSince() <= deregisteredBy)
        .map(NodeRecord::nodeId).sorted().toList();
    if (ids.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    long floor = highestId.get();
    return store.put(ID_FLOOR_KEY, Long.toString(floor)).compose(rev -> {
      collectedFloor = Math.max(collectedFloor, floor);
      List<Future<Long>> each = new java.util.ArrayList<>(ids.size());
      for (long id : ids) {
        each.add(updates.run(id, () -> {
          NodeRecord current = nodes.get(id);
          if (current == null || current.state() != NodeState.DEREGISTERED) {
            return Future.succeededFuture(0L); // collected meanwhile, or not deregistered any more
          }
          return store.delete(current.key()).map(deleted -> {
            forget(current);
            return id;
          });
        }));
      }
      return Future.all(each).map(all -> each.stream().map(Future::result).filter(id -> id > 0).toList());
    });
  }

  /** Also forgets collected nodes elsewhere (the legacy poll hub's last revision per node). */
  public void onCollected(java.util.function.LongConsumer listener) {
    collectedListeners.add(listener);
  }

  private void forget(NodeRecord record) {
    long id = record.nodeId();
    collectedListeners.forEach(l -> l.accept(id));
    nodes.remove(id);
    revisions.remove(id);
    lastStatus.remove(id);
    commandResults.remove(id);
    for (String sha : new String[] {record.certSha256(), record.previousCertSha256()}) {
      if (sha != null) {
        certificates.remove(sha, id);
      }
    }
  }

  /**
   * On a store shared with other controllers (etcd): follows every node record they write, from
   * {@code afterRevision} on, so this controller's view (the liveness rule, the gate) stays the
   * cluster's. {@code changed} hears of each record another controller changed (previous record, or
   * null for a new node; new record). Changes this controller wrote itself are recognised by
   * their revision and skipped.
   */
  public io.zlayer.worker.store.Watch follow(long afterRevision,
                                               java.util.function.BiConsumer<NodeRecord, NodeRecord> changed) {
    following = true;
    onChangedElsewhere(changed);
    return store.watch(NodeRecord.PREFIX, afterRevision, event -> {
      KeyValue kv = event.kv();
      long id;
      try {
        id = Long.parseLong(kv.key().substring(NodeRecord.PREFIX.length()));
      } catch (NumberFormatException e) {
        return;
      }
      if (revisions.getOrDefault(id, 0L) >= kv.modRevision()) {
        return; // our own write, or older than what we hold
      }
      revisions.put(id, kv.modRevision());
      NodeRecord previous = nodes.get(id);
      if (event.type() == io.zlayer.worker.store.WatchEvent.Type.DELETE) {
        if (previous != null) {
          forget(previous); // collected by another controller
        }
        return;
      }
      NodeRecord next = NodeRecord.fromJson(new JsonObject(kv.value()), clock.instant().getEpochSecond());
      if (next.equals(previous)) {
        return;
      }
      cache(next);
      changed.accept(previous, next);
    });
  }

  public Optional<NodeRecord> get(long nodeId) {
    return Optional.ofNullable(nodes.get(nodeId));
  }

  public Collection<NodeRecord> all() {
    return List.copyOf(nodes.values());
  }

  /** Whether the certificate with this fingerprint was issued to a node (now or before a rotation). */
  public boolean knowsCertificate(String sha256) {
    return certificates.containsKey(sha256);
  }

  /** The node a certificate was issued to, by the certificate's fingerprint. */
  public Optional<Long> certificateOwner(String sha256) {
    return Optional.ofNullable(certificates.get(sha256));
  }

  /** Records a write this controller committed at store revision {@code revision} (a new node's record). */
  public void cache(NodeRecord record, long revision) {
    cache(record);
    revisions.merge(record.nodeId(), revision, Math::max);
  }

  /** Records a write this controller committed. */
  public void cache(NodeRecord record) {
    nodes.put(record.nodeId(), record);
    if (record.certSha256() != null) {
      certificates.put(record.certSha256(), record.nodeId());
    }
    highestId.accumulateAndGet(record.nodeId(), Math::max);
  }

  /**
   * With several live controllers, each proposes new ids in its own residue class (id % count ==
   * rank, rank = its place among the live controllers by node_id), so concurrent registrations on
   * different controllers do not propose the same id. One controller: count 1, every id.
   */
  private record IdClass(int count, int rank) {
    boolean owns(long id) {
      return count == 1 || Math.floorMod(id, count) == rank;
    }
  }

  private volatile IdClass idClass = new IdClass(1, 0);
  /** The next id of this controller's class to try (several controllers only). */
  private long classCursor;

  /**
   * Tells which controllers are live: {@code controllerIds} (their node_ids, this one's {@code self}
   * among them). One controller (or an unknown self) keeps plain "one past the highest" ids.
   */
  public void liveControllers(java.util.Collection<Long> controllerIds, long self) {
    List<Long> sorted = controllerIds.stream().distinct().sorted().toList();
    int rank = sorted.indexOf(self);
    IdClass next = sorted.size() <= 1 || rank < 0 ? new IdClass(1, 0) : new IdClass(sorted.size(), rank);
    synchronized (this) {
      if (!next.equals(idClass)) {
        idClass = next;
        classCursor = 0; // restart from the lowest free id of the new class
      }
    }
  }

  /** The id to try for a new node: the desired one when free, else one past the highest known. */
  public long proposeId(long desired) {
    // At or below the collection floor an absent id may be a collected node's, whose assignment
    // and command logs are kept: never hand it out, not even to a worker asking for it.
    if (desired > collectedFloor && !nodes.containsKey(desired)) {
      return desired;
    }
    IdClass own = idClass;
    if (own.count() == 1) {
      for (Long returned = unused.pollFirst(); returned != null; returned = unused.pollFirst()) {
        if (returned > collectedFloor && !nodes.containsKey(returned)) {
          return returned;
        }
      }
      return highestId.incrementAndGet();
    }
    for (Long returned : unused) {
      if (own.owns(returned) && unused.remove(returned)) {
        if (returned > collectedFloor && !nodes.containsKey(returned)) {
          return returned;
        }
      }
    }
    return nextInClass(own);
  }

  /**
   * The lowest id of {@code own} past the floor and every id it proposed so far that no known
   * node holds. Bounded: it passes at most the known nodes of the class.
   */
  private synchronized long nextInClass(IdClass own) {
    long n = Math.max(classCursor, collectedFloor + 1);
    n += Math.floorMod(own.rank() - n, own.count()); // up to the class
    while (nodes.containsKey(n)) {
      n += own.count();
    }
    classCursor = n + own.count();
    highestId.accumulateAndGet(n, Math::max);
    return n;
  }

  /**
   * Gives back an id proposed for a registration that was refused (token already used, bad CSR):
   * an id is spent only by a registration that succeeds. The next proposal takes it again.
   */
  public void release(long nodeId) {
    if (nodeId > collectedFloor && !nodes.containsKey(nodeId)) {
      unused.add(nodeId);
    }
  }

  /** Notes that {@code nodeId} is taken (found by a failed compare-and-set). */
  public void reserve(long nodeId) {
    highestId.accumulateAndGet(nodeId, Math::max);
  }

  /** The record in {@code state} since now (itself if it already is in it). */
  NodeRecord withState(NodeRecord current, NodeState state, String cause) {
    return current.state() == state ? current : current.withState(state, cause, clock.instant().getEpochSecond());
  }

  /**
   * Applies {@code change} to the node's current record and stores the result. Updates of one
   * node run one at a time, so a sweep, a drain and a revocation cannot overwrite each other.
   */
  public Future<NodeRecord> update(long nodeId, java.util.function.UnaryOperator<NodeRecord> change) {
    return write(nodeId, change, List.of()).map(Written::record);
  }

  /**
   * Runs {@code work} in the node's turn: after every update of the node queued before it and
   * before any queued after (so a check it makes of the node's state still holds when it writes).
   */
  public <T> Future<T> inTurn(long nodeId, java.util.function.Supplier<Future<T>> work) {
    return updates.run(nodeId, work);
  }

  /** A committed change: the node's record before and after, and the store revision of the transaction. */
  public record Written(NodeRecord previous, NodeRecord record, long revision) {
  }

  /**
   * As {@link #update}, and puts {@code newKeys} (keys that must not exist yet, such as event-log
   * entries) in the same store transaction: all of it is written, or none.
   */
  public Future<Written> write(long nodeId, java.util.function.UnaryOperator<NodeRecord> change, List<Op.Put> newKeys) {
    return updates.run(nodeId, () -> attempt(nodeId, change, newKeys, 1));
  }

  /**
   * One compare-and-set of the node's record (and the new keys): it holds only if the record is
   * still at the revision we hold. When another controller changed it meanwhile, the record is read
   * again (and handled as a change elsewhere) and {@code change} applied to it, at most
   * {@link #MAX_WRITE_ATTEMPTS} times.
   */
  private Future<Written> attempt(long nodeId, java.util.function.UnaryOperator<NodeRecord> change,
                                  List<Op.Put> newKeys, int attempt) {
    NodeRecord current = nodes.get(nodeId);
    if (current == null) {
      return Future.failedFuture(ControlPlaneException.notFound("node " + nodeId + " is not registered"));
    }
    NodeRecord next = change.apply(current);
    if (next.equals(current) && newKeys.isEmpty()) {
      return Future.succeededFuture(new Written(current, current, 0));
    }
    List<Compare> compares = new ArrayList<>(newKeys.size() + 1);
    List<Op> ops = new ArrayList<>(newKeys.size() + 1);
    for (Op.Put put : newKeys) {
      compares.add(Compare.absent(put.key()));
      ops.add(put);
    }
    Long held = revisions.get(nodeId);
    if (!next.equals(current)) {
      ops.add(Op.put(next.key(), next.toJson().encode()));
      if (held != null) {
        compares.add(new Compare(next.key(), held));
      }
    }
    return store.txn(compares, ops).compose(result -> {
      if (result.succeeded()) {
        cache(next);
        revisions.merge(nodeId, result.revision(), Math::max);
        return Future.succeededFuture(new Written(current, next, result.revision()));
      }
      if (held == null || next.equals(current)) {
        return Future.failedFuture(new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
            "node " + nodeId + ": an event key was taken meanwhile; try again"));
      }
      return store.get(current.key()).compose(found -> {
        if (found.isEmpty()) {
          forget(current); // collected by another controller
          return Future.failedFuture(ControlPlaneException.notFound("node " + nodeId + " is not registered"));
        }
        KeyValue kv = found.get();
        if (kv.modRevision() == held) {
          return Future.failedFuture(new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
              "node " + nodeId + ": an event key was taken meanwhile; try again"));
        }
        refresh(nodeId, kv);
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          return Future.failedFuture(new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
              "node " + nodeId + ": its record kept changing through other controllers; try again"));
        }
        return attempt(nodeId, change, newKeys, attempt + 1);
      });
    });
  }

  /** Who hears of records another controller changed (set by {@link #follow}; tests set it alone). */
  void onChangedElsewhere(java.util.function.BiConsumer<NodeRecord, NodeRecord> changed) {
    changedElsewhere = changed;
  }

  /** Takes a record another controller wrote (read after a failed compare-and-set), as {@link #follow} would. */
  private void refresh(long nodeId, KeyValue kv) {
    if (revisions.getOrDefault(nodeId, 0L) >= kv.modRevision()) {
      return;
    }
    revisions.put(nodeId, kv.modRevision());
    NodeRecord previous = nodes.get(nodeId);
    NodeRecord fresh = NodeRecord.fromJson(new JsonObject(kv.value()), clock.instant().getEpochSecond());
    if (!fresh.equals(previous)) {
      cache(fresh);
      changedElsewhere.accept(previous, fresh);
    }
  }

  public void recordStatus(long nodeId, StatusReport status) {
    lastStatus.put(nodeId, status);
    if (status.getCommandResultsCount() > 0) {
      commandResults.compute(nodeId, (id, list) -> {
        java.util.Deque<CommandResult> out = list == null ? new java.util.ArrayDeque<>() : list;
        for (CommandResult r : status.getCommandResultsList()) {
          out.addLast(r);
          while (out.size() > KEPT_COMMAND_RESULTS) {
            out.removeFirst();
          }
        }
        return out;
      });
    }
  }

  /** The outcomes of the node's most recent commands, oldest first. */
  public List<CommandResult> commandResults(long nodeId) {
    java.util.Deque<CommandResult> list = commandResults.get(nodeId);
    return list == null ? List.of() : List.copyOf(list);
  }

  public Optional<StatusReport> lastStatus(long nodeId) {
    return Optional.ofNullable(lastStatus.get(nodeId));
  }
}
