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

/** Prints sequential CAS txn throughput; informative only, asserts no speed. */
@ExtendWith(VertxExtension.class)
class EmbeddedStoreThroughputTest {

  @TempDir Path dir;

  @Test
  void sequentialTxnThroughput(Vertx vertx) {
    measure(vertx, dir.resolve("normal"), false, 3000);
    measure(vertx, dir.resolve("full"), true, 300);
  }

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
