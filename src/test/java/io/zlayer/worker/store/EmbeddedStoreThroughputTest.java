package io.zlayer.worker.store;

import static io.zlayer.worker.store.EmbeddedStoreTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prints CAS txn throughput, one at a time and many in flight (group commit); asserts no speed,
 * only that every concurrent txn kept its own outcome.
 */
@ExtendWith(VertxExtension.class)
class EmbeddedStoreThroughputTest {

  @TempDir Path dir;

  @Test
  void sequentialTxnThroughput(Vertx vertx) {
    measure(vertx, dir.resolve("normal"), false, 3000);
    measure(vertx, dir.resolve("full"), true, 300);
  }

  @Test
  void concurrentTxnsCommitTogetherEachWithItsOwnOutcome(Vertx vertx) {
    concurrent(vertx, dir.resolve("group-normal"), false);
    concurrent(vertx, dir.resolve("group-full"), true);
  }

  private void concurrent(Vertx vertx, Path path, boolean fsync) {
    EmbeddedStore store = await(EmbeddedStore.open(vertx, path, fsync));
    List<StoreEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicLong expected = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
    io.vertx.core.Promise<Void> allSeen = io.vertx.core.Promise.promise();
    try {
      Watch watch = store.watch("g/", 0, e -> {
        events.add(new StoreEvent(e.kv().key(), e.kv().modRevision()));
        if (events.size() >= expected.get()) {
          allSeen.tryComplete();
        }
      });
      await(watch.started());
      int n = 2000;
      long start = System.nanoTime();
      List<io.vertx.core.Future<TxnResult>> all = new java.util.ArrayList<>();
      for (int i = 0; i < n; i++) {
        // Half on their own keys; half race to create one key: exactly one of those may win.
        String key = i % 2 == 0 ? "g/" + i : "g/contended";
        all.add(store.txn(List.of(Compare.absent(key)), List.of(Op.put(key, "v" + i))));
      }
      List<TxnResult> results = all.stream().map(EmbeddedStoreTest::await).toList();
      double secs = (System.nanoTime() - start) / 1e9;
      System.out.printf("store throughput (synchronous=%s): %d txns in flight at once in %.2fs = %.0f txns/s%n",
          fsync ? "FULL" : "NORMAL", n, secs, n / secs);
      long won = results.stream().filter(TxnResult::succeeded).count();
      assertEquals(n / 2 + 1, won, "every own-key create and exactly one contended create succeed");
      List<Long> revisions = results.stream().filter(TxnResult::succeeded).map(TxnResult::revision).sorted().toList();
      for (int i = 0; i < revisions.size(); i++) {
        assertEquals(i + 1, revisions.get(i), "one revision per committed txn, no gaps");
      }
      expected.set(won);
      if (events.size() >= won) {
        allSeen.tryComplete();
      }
      await(allSeen.future().timeout(10, java.util.concurrent.TimeUnit.SECONDS));
      assertEquals(won, events.size(), "the watcher saw each committed write once");
      for (int i = 0; i < events.size(); i++) {
        assertEquals(i + 1, events.get(i).revision(), "in revision order");
      }
      watch.cancel();
    } finally {
      await(store.close());
    }
  }

  private record StoreEvent(String key, long revision) {}

  private static void measure(Vertx vertx, Path path, boolean fsync, int n) {
    EmbeddedStore store = await(EmbeddedStore.open(vertx, path, fsync));
    try {
      long start = System.nanoTime();
      for (int i = 0; i < n; i++) {
        // One awaited compare-and-set txn at a time: the latency-bound figure a controller loop sees.
        TxnResult r = await(store.txn(List.of(Compare.absent("t/" + i)), List.of(Op.put("t/" + i, "v"))));
        assertEquals(i + 1, r.revision());
      }
      double secs = (System.nanoTime() - start) / 1e9;
      System.out.printf("store throughput (synchronous=%s): %d sequential txns in %.2fs = %.0f txns/s%n",
          fsync ? "FULL" : "NORMAL", n, secs, n / secs);
    } finally {
      await(store.close());
    }
  }
}
