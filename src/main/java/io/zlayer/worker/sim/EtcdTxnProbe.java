package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.EtcdStoreOptions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * etcd's raw rate of the write a registration makes, for bench/run's etcd-bound ceiling: through
 * the project's own {@link EtcdStore}, {@code lanes} concurrent loops each commit, one after the
 * other, the registration's transaction shape (Registrar.commit: the token record unchanged and
 * the node key absent; put the token record and a node record of a registration's size), for
 * {@code seconds}. Keys live under their own prefix ({@code /zlayer-bench-probe/}), never the
 * cluster's. Usage: {@code EtcdTxnProbe ENDPOINT [lanes=256] [seconds=5] [--json]}.
 */
public final class EtcdTxnProbe {
  private static final String PREFIX = "/zlayer-bench-probe/";
  /** About a node record's size (profile, certificate serial and digest, state, times). */
  private static final String NODE_VALUE = "x".repeat(600);
  private static final String TOKEN_VALUE = "y".repeat(180);
  private static final int OPEN_ATTEMPTS = 5;

  private EtcdTxnProbe() {
  }

  public static void main(String[] args) throws Exception {
    List<String> positional = java.util.Arrays.stream(args).filter(a -> !a.startsWith("--")).toList();
    if (positional.isEmpty()) {
      System.err.println("usage: EtcdTxnProbe ENDPOINT [lanes=256] [seconds=5] [--json]");
      System.exit(2);
    }
    String endpoint = positional.get(0);
    int lanes = positional.size() > 1 ? Integer.parseInt(positional.get(1)) : 256;
    double seconds = positional.size() > 2 ? Double.parseDouble(positional.get(2)) : 5;
    boolean json = List.of(args).contains("--json");
    Vertx vertx = Vertx.vertx();
    try {
      // A long deadline per request: on a busy box the first call of a cold JVM takes seconds.
      EtcdStoreOptions options = EtcdStoreOptions.of(List.of(endpoint)).withPrefix(PREFIX)
          .withRequestTimeout(java.time.Duration.ofSeconds(20));
      EtcdStore store = null;
      for (int attempt = 1; store == null; attempt++) {
        try {
          store = Simulator.await(EtcdStore.open(vertx, options), java.time.Duration.ofSeconds(30));
        } catch (Exception e) {
          if (attempt >= OPEN_ATTEMPTS) {
            throw e;
          }
          System.err.println("etcd probe: " + Simulator.describe(e) + "; again");
        }
      }
      String run = Long.toString(System.nanoTime(), 36);
      AtomicLong committed = new AtomicLong();
      AtomicLong conflicts = new AtomicLong();
      AtomicLong failures = new AtomicLong();
      // Every lane's token record first; the clock starts once they are all there.
      List<Future<KeyValue>> tokens = new java.util.ArrayList<>();
      for (int lane = 0; lane < lanes; lane++) {
        String token = "tokens/" + run + "-" + lane;
        EtcdStore s = store;
        Promise<KeyValue> ready = Promise.promise();
        tokens.add(ready.future());
        vertx.runOnContext(v -> s.put(token, TOKEN_VALUE).compose(rev -> s.get(token)).map(Optional::orElseThrow)
            .onComplete(ready));
      }
      Future.all(tokens).toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
      long warmEnd = System.nanoTime() + 1_000_000_000L; // a second of warm-up, not counted
      long end = warmEnd + (long) (seconds * 1e9);
      List<Future<Void>> done = new java.util.ArrayList<>();
      for (int lane = 0; lane < lanes; lane++) {
        Promise<Void> finished = Promise.promise();
        done.add(finished.future());
        KeyValue token = tokens.get(lane).result();
        String name = run + "-" + lane;
        EtcdStore s = store;
        vertx.runOnContext(v -> loop(s, token, name, 0, warmEnd, end, committed, conflicts, failures, finished));
      }
      Future.join(done).toCompletionStage().toCompletableFuture().get((long) (seconds + 60), TimeUnit.SECONDS);
      double secs = seconds;
      double rate = committed.get() / secs;
      if (json) {
        System.out.println(new JsonObject().put("etcd_txn_per_sec", rate).put("lanes", lanes).put("seconds", secs)
            .put("conflicts", conflicts.get()).put("failures", failures.get()).encode());
      } else {
        System.out.printf("etcd registration-shaped txns: %.0f/s (%d lanes, %.1f s, %d conflicts, %d failures)%n",
            rate, lanes, secs, conflicts.get(), failures.get());
      }
      store.close();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  private static void loop(EtcdStore store, KeyValue token, String lane, long i, long warmEnd, long end,
                           AtomicLong committed, AtomicLong conflicts, AtomicLong failures, Promise<Void> finished) {
    long now = System.nanoTime();
    if (now >= end) {
      finished.complete();
      return;
    }
    boolean counts = now >= warmEnd;
    String node = "nodes/" + lane + "-" + i;
    store.txn(List.of(Compare.unchanged(token), Compare.absent(node)),
            List.of(Op.put(token.key(), TOKEN_VALUE), Op.put(node, NODE_VALUE)))
        .onComplete(ar -> {
          KeyValue next = token;
          if (ar.failed()) {
            failures.incrementAndGet();
          } else if (!ar.result().succeeded()) {
            conflicts.incrementAndGet();
          } else {
            long rev = ar.result().revision();
            next = new KeyValue(token.key(), TOKEN_VALUE, token.createRevision(), rev, token.version() + 1);
            if (counts && System.nanoTime() < end) {
              committed.incrementAndGet();
            }
          }
          loop(store, next, lane, i + 1, warmEnd, end, committed, conflicts, failures, finished);
        });
  }
}
