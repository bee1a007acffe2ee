package io.zlayer.worker.store.etcd;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.StoreArgs;
import io.zlayer.worker.store.TxnResult;
import io.zlayer.worker.store.Watch;
import io.zlayer.worker.store.WatchEvent;
import io.zlayer.worker.store.etcd.etcdserverpb.CompactionRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.DeleteRangeRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.KVGrpcClient;
import io.zlayer.worker.store.etcd.etcdserverpb.PutRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.RangeRequest;
import io.zlayer.worker.store.etcd.etcdserverpb.RangeResponse;
import io.zlayer.worker.store.etcd.etcdserverpb.RequestOp;
import io.zlayer.worker.store.etcd.etcdserverpb.TxnRequest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * {@link Store} on etcd v3, over the Vert.x gRPC client and etcd's own protos: every call and
 * callback on the event loop. Store keys live under {@link EtcdStoreOptions#prefix()}.
 *
 * <p>Semantics are etcd's, which the store contract was shaped on: one cluster revision (etcd's,
 * so it also moves with writes outside the prefix, and a fresh etcd starts at 1, not 0),
 * createRevision/modRevision/version per key, compare-and-set txns, ranges, and watches from a
 * revision. A watch replays etcd's history (deletes and every intermediate put included) unless
 * that history was compacted: then the store ranges the prefix and delivers, as PUTs in
 * modRevision order, the keys changed since the watch's last event, and watches again from the
 * range's revision. Across a compacted window a caller therefore sees current values but not the
 * deletes in that window, as the embedded store's replay does.
 *
 * <p>Failures: a call that etcd cannot answer within {@link EtcdStoreOptions#requestTimeout()}
 * fails with {@link io.zlayer.worker.store.StoreUnavailableException}; other etcd errors with
 * {@link EtcdException}. Watches outlive outages: they reconnect and resume with no gap.
 */
public final class EtcdStore implements Store {

  private volatile java.util.function.LongConsumer commitObserver = nanos -> { };
  private final EtcdClient etcd;
  private final String prefix;
  private final EtcdWatchHub watches;
  private final EtcdLeases leases;
  private volatile boolean closed;

  EtcdStore(Vertx vertx, EtcdClient etcd, String prefix) {
    this.etcd = etcd;
    this.prefix = prefix;
    this.watches = new EtcdWatchHub(vertx, etcd, this);
    this.leases = new EtcdLeases(vertx, etcd);
  }

  /** Connects and reads the revision once, so an unreachable etcd is reported at start. */
  public static Future<EtcdStore> open(Vertx vertx, EtcdStoreOptions options) {
    EtcdStore store = new EtcdStore(vertx, new EtcdClient(vertx, options), options.prefix());
    return store.revision().map(store).recover(e -> store.close().transform(v -> Future.failedFuture(e)));
  }

  public String prefix() {
    return prefix;
  }

  /** etcd leases (grant, keep alive, revoke), for keys that must vanish with their owner. */
  public EtcdLeases leases() {
    return leases;
  }

  /** etcd's election API, with election names under this store's prefix. */
  public EtcdElection election() {
    return new EtcdElection(etcd, prefix);
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Future<Optional<KeyValue>> get(String key) {
    String bad = StoreArgs.badKey(key);
    if (bad != null) {
      return illegal(bad);
    }
    return range(RangeRequest.newBuilder().setKey(full(key)).build())
        .map(r -> r.getKvsCount() == 0 ? Optional.empty() : Optional.of(toKv(r.getKvs(0))));
  }

  @Override
  public Future<List<KeyValue>> range(String p) {
    if (p == null) {
      return illegal("prefix must not be null");
    }
    return rangePrefix(p).map(r -> toKvs(r.getKvsList()));
  }

  /** A prefix range with its header (the revision it was read at). */
  Future<RangeResponse> rangePrefix(String p) {
    ByteString from = full(p);
    return range(RangeRequest.newBuilder().setKey(from).setRangeEnd(rangeEnd(from)).build());
  }

  @Override
  public Future<List<KeyValue>> rangeAfter(String p, long afterRevision, int limit) {
    if (p == null) {
      return illegal("prefix must not be null");
    }
    return range(rangeAfterRequest(p, afterRevision, limit)).map(r -> sortedByRevision(r.getKvsList()));
  }

  /**
   * One read-only txn (a linearizable read in etcd, not a raft proposal): a watch's opening read of a
   * node's event log is one round trip instead of three (base, events, base again).
   */
  @Override
  public Future<Optional<Snapshot>> getAndRangeAfter(String key, String p, long afterRevision, int limit) {
    String bad = p == null ? "prefix must not be null" : StoreArgs.badKey(key);
    if (bad != null) {
      return illegal(bad);
    }
    if (closed) {
      return closedFailure();
    }
    TxnRequest t = TxnRequest.newBuilder()
        .addSuccess(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(full(key))))
        .addSuccess(RequestOp.newBuilder().setRequestRange(rangeAfterRequest(p, afterRevision, limit)))
        .build();
    return etcd.call(KVGrpcClient.Txn, t).map(r -> {
      RangeResponse one = r.getResponses(0).getResponseRange();
      RangeResponse events = r.getResponses(1).getResponseRange();
      return Optional.of(new Snapshot(one.getKvsCount() == 0 ? Optional.empty() : Optional.of(toKv(one.getKvs(0))),
          sortedByRevision(events.getKvsList())));
    });
  }

  private RangeRequest rangeAfterRequest(String p, long afterRevision, int limit) {
    ByteString from = full(p);
    RangeRequest.Builder b = RangeRequest.newBuilder().setKey(from).setRangeEnd(rangeEnd(from))
        .setSortTarget(RangeRequest.SortTarget.MOD).setSortOrder(RangeRequest.SortOrder.ASCEND);
    if (afterRevision >= 0) {
      b.setMinModRevision(afterRevision + 1);
    }
    if (limit > 0) {
      b.setLimit(limit);
    }
    return b.build();
  }

  /** etcd's sort by modRevision is not stable: keys of one revision are ordered by key, as the embedded store does. */
  private List<KeyValue> sortedByRevision(List<io.zlayer.worker.store.etcd.mvccpb.KeyValue> kvs) {
    List<KeyValue> out = new ArrayList<>(toKvs(kvs));
    out.sort(Comparator.comparingLong(KeyValue::modRevision).thenComparing(KeyValue::key));
    return out;
  }

  @Override
  public Future<Long> revision() {
    return range(RangeRequest.newBuilder().setKey(full("")).setLimit(1).setCountOnly(true).build())
        .map(r -> r.getHeader().getRevision());
  }

  private Future<RangeResponse> range(RangeRequest request) {
    return closed ? closedFailure() : etcd.call(KVGrpcClient.Range, request);
  }

  // ---------------------------------------------------------------- writes

  /** A write's round trip to etcd (its commit, as etcd acknowledges only what a quorum has on disk). */
  @Override
  public void observeCommits(java.util.function.LongConsumer nanos) {
    commitObserver = nanos;
  }

  @Override
  public Future<Long> put(String key, String value) {
    return put(key, value, 0);
  }

  /** Put attached to an etcd lease ({@code leaseId} 0: none): the key goes when the lease ends. */
  public Future<Long> put(String key, String value, long leaseId) {
    String bad = StoreArgs.badKey(key);
    if (bad != null || value == null) {
      return illegal(bad != null ? bad : "put value must not be null for key " + key);
    }
    if (closed) {
      return closedFailure();
    }
    long start = System.nanoTime();
    return etcd.call(KVGrpcClient.Put, PutRequest.newBuilder().setKey(full(key))
        .setValue(ByteString.copyFromUtf8(value)).setLease(leaseId).build())
        .onSuccess(r -> commitObserver.accept(System.nanoTime() - start)).map(r -> r.getHeader().getRevision());
  }

  @Override
  public Future<Boolean> delete(String key) {
    String bad = StoreArgs.badKey(key);
    if (bad != null) {
      return illegal(bad);
    }
    if (closed) {
      return closedFailure();
    }
    return etcd.call(KVGrpcClient.DeleteRange, DeleteRangeRequest.newBuilder().setKey(full(key)).build())
        .map(r -> r.getDeleted() > 0);
  }

  @Override
  public Future<TxnResult> txn(List<Compare> compares, List<Op> ops) {
    return txn(compares, ops, 0);
  }

  /** {@link #txn(List, List)} whose puts are attached to an etcd lease ({@code leaseId} 0: none). */
  public Future<TxnResult> txn(List<Compare> compares, List<Op> ops, long leaseId) {
    String bad = StoreArgs.validate(compares, ops);
    if (bad != null) {
      return illegal(bad);
    }
    if (closed) {
      return closedFailure();
    }
    TxnRequest.Builder t = TxnRequest.newBuilder();
    for (Compare c : compares) {
      t.addCompare(io.zlayer.worker.store.etcd.etcdserverpb.Compare.newBuilder().setKey(full(c.key()))
          .setTarget(io.zlayer.worker.store.etcd.etcdserverpb.Compare.CompareTarget.MOD)
          .setResult(io.zlayer.worker.store.etcd.etcdserverpb.Compare.CompareResult.EQUAL)
          .setModRevision(c.modRevision()));
    }
    for (Op op : ops) {
      if (op instanceof Op.Put p) {
        t.addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(full(p.key()))
            .setValue(ByteString.copyFromUtf8(p.value())).setLease(leaseId)));
      } else {
        t.addSuccess(RequestOp.newBuilder().setRequestDeleteRange(
            DeleteRangeRequest.newBuilder().setKey(full(op.key()))));
      }
    }
    long start = System.nanoTime();
    return etcd.call(KVGrpcClient.Txn, t.build())
        .onSuccess(r -> commitObserver.accept(System.nanoTime() - start))
        .map(r -> new TxnResult(r.getSucceeded(), r.getHeader().getRevision()));
  }

  /**
   * Drops etcd's history up to {@code revision} (the server's auto-compaction normally does it);
   * watches that still needed it resync as the class comment says.
   */
  public Future<Void> compact(long revision) {
    return etcd.call(KVGrpcClient.Compact, CompactionRequest.newBuilder().setRevision(revision).setPhysical(true)
        .build()).mapEmpty();
  }

  // ---------------------------------------------------------------- watches

  @Override
  public Watch watch(String p, long afterRevision, Handler<WatchEvent> handler) {
    if (p == null || handler == null) {
      throw new IllegalArgumentException("prefix and handler must not be null");
    }
    return watches.watch(p, afterRevision, handler);
  }

  @Override
  public Future<Void> close() {
    closed = true;
    return watches.close().eventually(leases::close).eventually(etcd::close);
  }

  // ---------------------------------------------------------------- keys

  ByteString full(String key) {
    return ByteString.copyFromUtf8(prefix + key);
  }

  /** etcd's prefix range end: the prefix with its last byte below 0xff incremented. */
  static ByteString rangeEnd(ByteString from) {
    byte[] b = from.toByteArray();
    for (int i = b.length - 1; i >= 0; i--) {
      if (b[i] != (byte) 0xff) {
        byte[] end = java.util.Arrays.copyOf(b, i + 1);
        end[i]++;
        return ByteString.copyFrom(end);
      }
    }
    return ByteString.copyFrom(new byte[] {0}); // every key from `from` on
  }

  KeyValue toKv(io.zlayer.worker.store.etcd.mvccpb.KeyValue kv) {
    return new KeyValue(kv.getKey().toStringUtf8().substring(prefix.length()), kv.getValue().toStringUtf8(),
        kv.getCreateRevision(), kv.getModRevision(), kv.getVersion());
  }

  private List<KeyValue> toKvs(List<io.zlayer.worker.store.etcd.mvccpb.KeyValue> kvs) {
    List<KeyValue> out = new ArrayList<>(kvs.size());
    kvs.forEach(kv -> out.add(toKv(kv)));
    return out;
  }

  private static <T> Future<T> illegal(String message) {
    return Future.failedFuture(new IllegalArgumentException(message));
  }

  private static <T> Future<T> closedFailure() {
    return Future.failedFuture(new IllegalStateException("store is closed"));
  }
}
