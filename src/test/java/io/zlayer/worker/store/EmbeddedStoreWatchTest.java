package io.zlayer.worker.store;

import static io.zlayer.worker.store.EmbeddedStoreTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watch behaviour. Handlers run on event-loop contexts and only append to lists owned by that context;
 * the test finishes when a known last event arrives, bounded by awaitCompletion.
 */
@ExtendWith(VertxExtension.class)
class EmbeddedStoreWatchTest {

  @TempDir Path dir;
  Vertx vertx;
  EmbeddedStore store;

  @BeforeEach
  void open(Vertx vertx) {
    this.vertx = vertx;
    store = await(EmbeddedStore.open(vertx, dir));
  }

  @AfterEach
  void close() {
    await(store.close());
  }

  @Test
  void replaysLaterPutsThenLive(VertxTestContext tc) throws Exception {
    await(store.put("w/a", "1"));   // 1
    await(store.put("w/b", "2"));   // 2
    await(store.put("x/other", "")); // 3, other prefix
    await(store.put("w/c", "4"));   // 4
    await(store.put("w/a", "5"));   // 5
    Context ctx = vertx.getOrCreateContext();
    List<WatchEvent> seen = new ArrayList<>();
    ctx.runOnContext(v -> store.watch("w/", 2, e -> {
      tc.verify(() -> assertSame(ctx, Vertx.currentContext()));
      seen.add(e);
      if (seen.size() == 2) { // replay done: now write live changes
        store.put("w/d", "6").compose(r -> store.put("x/skip", "7")).compose(r -> store.delete("w/c"));
      }
      if (e.kv().key().equals("w/c") && e.type() == WatchEvent.Type.DELETE) {
        tc.verify(() -> {
          assertEquals(List.of("PUT w/c 4", "PUT w/a 5", "PUT w/d 6", "DELETE w/c 8"), describe(seen));
          assertEquals(new KeyValue("w/a", "5", 1, 5, 2), seen.get(1).kv());
          assertNull(e.kv().value());
        });
        tc.completeNow();
      }
    }));
    assertTrue(tc.awaitCompletion(10, TimeUnit.SECONDS));
  }

  @Test
  void noGapNoDuplicateWhileWriting(VertxTestContext tc) throws Exception {
    int n = 300;
    Context writer = vertx.getOrCreateContext();
    Context watcher = vertx.getOrCreateContext();
    List<KeyValue> fromZero = new ArrayList<>();
    List<KeyValue> fromMid = new ArrayList<>();
    long[] midRev = new long[1];
    long[] acked = new long[n]; // revision returned by each g/ put
    var done = tc.checkpoint(3); // both watches saw the last key, and the writer saw its last ack
    // The writer keeps a chain of puts going; once a third are acknowledged it asks the watcher
    // context to start two watches while later puts are still being issued and committed.
    writer.runOnContext(v -> writeFrom(0, n, (i, rev0) -> {
      acked[i] = rev0;
      if (i == n - 1) {
        done.flag();
      }
      if (i == n / 3) {
        store.revision().onSuccess(rev -> watcher.runOnContext(x -> {
          midRev[0] = rev;
          store.watch("g/", 0, e -> collect(e, fromZero, n, done));
          store.watch("g/", rev, e -> collect(e, fromMid, n, done));
        }));
      }
    }));
    assertTrue(tc.awaitCompletion(20, TimeUnit.SECONDS));
        assertEquals(n, fromZero.size());
    for (int i = 0; i < n; i++) {
      assertEquals(String.format("g/%04d", i), fromZero.get(i).key());
      assertEquals(acked[i], fromZero.get(i).modRevision()); // every put, in revision order, once
    }
    assertTrue(midRev[0] > 0);
    assertEquals(fromZero.stream().filter(kv -> kv.modRevision() > midRev[0]).toList(), fromMid);
  }

  private void collect(WatchEvent e, List<KeyValue> into, int n,
      io.vertx.junit5.Checkpoint done) {
    into.add(e.kv());
    if (e.kv().key().equals(String.format("g/%04d", n - 1))) {
      done.flag();
    }
  }

  private void writeFrom(int i, int n, java.util.function.BiConsumer<Integer, Long> acked) {
    if (i < n) {
      store.put(String.format("g/%04d", i), "v" + i).onSuccess(r -> {
        acked.accept(i, r);
        writeFrom(i + 1, n, acked);
      });
      if (i % 7 == 0) {
        store.put("h/noise" + i, "x"); // other prefix, interleaved, must not show up
      }
    }
  }

  @Test
  void cancelStopsDelivery(VertxTestContext tc) throws Exception {
    Context ctx = vertx.getOrCreateContext();
    List<String> cancelled = new ArrayList<>();
    List<String> control = new ArrayList<>();
    ctx.runOnContext(v -> {
      Watch[] w = new Watch[1];
      w[0] = store.watch("c/", 0, e -> {
        cancelled.add(e.kv().key());
        w[0].cancel();
        // Written after cancel: must never reach the cancelled watcher.
        store.put("c/2", "x").compose(r -> store.put("c/3", "x"));
      });
      // Same context, registered after the first: its events for a revision are queued after the
      // cancelled watcher's, so by the time it sees c/3 the cancelled one would have seen c/2 and c/3.
      store.watch("c/", 0, e -> {
        control.add(e.kv().key());
        if (e.kv().key().equals("c/3")) {
          tc.verify(() -> {
            assertEquals(List.of("c/1"), cancelled);
            assertEquals(List.of("c/1", "c/2", "c/3"), control);
          });
          tc.completeNow();
        }
      });
      store.put("c/1", "x");
    });
    assertTrue(tc.awaitCompletion(10, TimeUnit.SECONDS));
  }

  static List<String> describe(List<WatchEvent> events) {
    return events.stream().map(e -> e.type() + " " + e.kv().key() + " " + e.kv().modRevision()).toList();
  }


  @Test
  void aWatchReportsWhetherItStarted() throws Exception {
    Watch live = store.watch("w/", 0, e -> { });
    await(live.started());
    live.cancel();
    await(store.close());
    Watch dead = store.watch("w/", 0, e -> { });
    org.junit.jupiter.api.Assertions.assertThrows(Throwable.class, () -> await(dead.started()));
    org.junit.jupiter.api.Assertions.assertTrue(dead.started().failed(),
        "a watch on a closed store fails to start instead of staying silent");
  }
}
