package io.zlayer.worker.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Sequential steps are driven from the JUnit thread with bounded awaits; the store runs on its own thread. */
@ExtendWith(VertxExtension.class)
class EmbeddedStoreTest {

  @TempDir Path dir;
  Vertx vertx;
  EmbeddedStore store;

  static <T> T await(Future<T> f) {
    try {
      return f.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static Throwable failure(Future<?> f) {
    try {
      f.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      return e instanceof ExecutionException ? e.getCause() : e;
    }
    throw new AssertionError("expected a failed future");
  }

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
  void aWriteThatFailsInABatchFailsAloneAndTheOthersCommitInOrder() throws Exception {
    java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    Future<Boolean> blocker = store.writeForTest(() -> {
      running.countDown();
      return release.await(10, TimeUnit.SECONDS);
    });
    assertTrue(running.await(10, TimeUnit.SECONDS));
    // The store thread is busy: these three queue up and run as one batch.
    Future<Long> a = store.put("k/a", "1");
    Future<Object> bad = store.writeForTest(() -> {
      throw new java.sql.SQLException("disk says no");
    });
    Future<Long> b = store.put("k/b", "2");
    release.countDown();
    assertTrue(await(blocker));
    assertEquals(1L, await(a));
    assertEquals("disk says no", failure(bad).getMessage());
    assertEquals(2L, await(b)); // the failed job took no revision
    assertEquals(2L, await(store.revision()));
    assertEquals(List.of("k/a", "k/b"), keys(await(store.range("k/"))));
  }

  @Test
  void basics() {
    assertEquals(0L, await(store.revision()));
    assertEquals(Optional.empty(), await(store.get("a/x")));
    assertEquals(1L, await(store.put("a/x", "1")));
    assertEquals(2L, await(store.put("a/y", "2")));
    assertEquals(3L, await(store.put("b/z", "3")));
    assertEquals(4L, await(store.put("a/x", "1b")));
    assertEquals(5L, await(store.put("a0", "not under a/")));

    KeyValue x = await(store.get("a/x")).orElseThrow();
    assertEquals(new KeyValue("a/x", "1b", 1, 4, 2), x); // version counts puts, createRevision stays
    assertEquals(List.of("a/x", "a/y"), keys(await(store.range("a/"))));
    assertEquals(List.of("a/x", "a/y", "a0", "b/z"), keys(await(store.range(""))));
    assertEquals(List.of("a/y", "a/x"), keys(await(store.rangeAfter("a/", 1, 0))));
    assertEquals(List.of("a/y"), keys(await(store.rangeAfter("a/", 1, 1))));
    assertEquals(List.of("a/x"), keys(await(store.rangeAfter("a/", 2, -1))));

    assertTrue(await(store.delete("a/x")));
    assertEquals(6L, await(store.revision()));
    assertFalse(await(store.delete("a/x"))); // deleting an absent key is not a write
    assertEquals(6L, await(store.revision()));
    assertEquals(Optional.empty(), await(store.get("a/x")));
    assertEquals(7L, await(store.put("a/x", "again")));
    assertEquals(new KeyValue("a/x", "again", 7, 7, 1), await(store.get("a/x")).orElseThrow());
  }

  @Test
  void prefixesWithUnusualCharacters() {
    for (String k : List.of("p\uffff", "p\uffffa", "p\uD83D\uDE00", "p\uD83D\uDE00x", "q")) {
      await(store.put(k, k));
    }
    assertEquals(List.of("p\uffff", "p\uffffa"), keys(await(store.range("p\uffff"))));
    assertEquals(List.of("p\uD83D\uDE00", "p\uD83D\uDE00x"), keys(await(store.range("p\uD83D\uDE00"))));
    assertEquals(4, await(store.range("p")).size());
  }

  @Test
  void badInputIsIllegalArgument() {
    assertInstanceOf(IllegalArgumentException.class, failure(store.get(null)));
    assertInstanceOf(IllegalArgumentException.class, failure(store.put("", "v")));
    assertInstanceOf(IllegalArgumentException.class, failure(store.put("k", null)));
    assertInstanceOf(IllegalArgumentException.class, failure(store.delete(null)));
    assertInstanceOf(IllegalArgumentException.class, failure(store.range(null)));
    assertInstanceOf(IllegalArgumentException.class,
        failure(store.txn(List.of(Compare.absent("")), List.of())));
    assertInstanceOf(IllegalArgumentException.class,
        failure(store.txn(List.of(), List.of(Op.put("k", "1"), Op.delete("k")))));
    assertTrue(failure(store.get("")).getMessage().contains("empty"));
    assertThrows(IllegalArgumentException.class, () -> store.watch(null, 0, e -> {}));
    assertEquals(0L, await(store.revision()));
  }

  @Test
  void compareAndSet() {
    TxnResult first = await(store.txn(List.of(Compare.absent("lock")), List.of(Op.put("lock", "me"))));
    assertEquals(new TxnResult(true, 1), first);
    TxnResult second = await(store.txn(List.of(Compare.absent("lock")), List.of(Op.put("lock", "you"))));
    assertEquals(new TxnResult(false, 1), second);
    assertEquals("me", await(store.get("lock")).orElseThrow().value());

    KeyValue seen = await(store.get("lock")).orElseThrow();
    await(store.put("lock", "other")); // revision 2
    TxnResult stale = await(store.txn(List.of(Compare.unchanged(seen)),
        List.of(Op.put("lock", "mine"), Op.put("side", "effect"))));
    assertEquals(new TxnResult(false, 2), stale); // nothing written, revision unchanged
    assertEquals(Optional.empty(), await(store.get("side")));
    assertEquals("other", await(store.get("lock")).orElseThrow().value());

    KeyValue fresh = await(store.get("lock")).orElseThrow();
    TxnResult multi = await(store.txn(List.of(Compare.unchanged(fresh), Compare.absent("side")),
        List.of(Op.put("lock", "mine"), Op.put("side", "effect"), Op.delete("nothing"))));
    assertEquals(new TxnResult(true, 3), multi);
    assertEquals(3, await(store.get("lock")).orElseThrow().modRevision());
    assertEquals(3, await(store.get("side")).orElseThrow().modRevision());

    // Compares hold but nothing to do: no new revision.
    assertEquals(new TxnResult(true, 3), await(store.txn(List.of(Compare.absent("nope")), List.of())));
    assertEquals(3L, await(store.revision()));
  }

  @Test
  void concurrentCasHasExactlyOneWinner() {
    List<Future<TxnResult>> all = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      // Each txn is issued from its own event-loop context so they really race.
      Context ctx = vertx.getOrCreateContext();
      Promise<TxnResult> p = Promise.promise();
      String me = "owner-" + i;
      ctx.runOnContext(v -> store.txn(List.of(Compare.absent("token/1")), List.of(Op.put("token/1", me)))
          .onComplete(p));
      all.add(p.future());
    }
    await(Future.join(all));
    long winners = all.stream().filter(f -> f.result().succeeded()).count();
    assertEquals(1, winners);
    assertEquals(1L, await(store.revision()));
    String owner = await(store.get("token/1")).orElseThrow().value();
    int winner = all.indexOf(all.stream().filter(f -> f.result().succeeded()).findFirst().orElseThrow());
    assertEquals("owner-" + winner, owner);
  }

  @Test
  void reopenKeepsDataAndRevision() {
    await(store.put("k1", "v1"));
    await(store.put("k2", "v2"));
    await(store.put("k1", "v1b"));
    await(store.delete("k2"));
    await(store.close());
    assertInstanceOf(IllegalStateException.class, failure(store.get("k1")));
    store = await(EmbeddedStore.open(vertx, dir, true));
    assertEquals(4L, await(store.revision()));
    assertEquals(new KeyValue("k1", "v1b", 1, 3, 2), await(store.get("k1")).orElseThrow());
    assertEquals(Optional.empty(), await(store.get("k2")));
    assertEquals(5L, await(store.put("k3", "v3")));
  }

  @Test
  void prefixEnd() {
    assertEquals(null, StoreArgs.prefixEnd(""));
    assertEquals("b", StoreArgs.prefixEnd("a"));
    assertEquals("a0", StoreArgs.prefixEnd("a/"));
    assertEquals("a\uE000", StoreArgs.prefixEnd("a\uD7FF"));
    assertEquals("b", StoreArgs.prefixEnd("a" + new String(Character.toChars(Character.MAX_CODE_POINT))));
  }

  static List<String> keys(List<KeyValue> kvs) {
    return kvs.stream().map(KeyValue::key).toList();
  }
}
