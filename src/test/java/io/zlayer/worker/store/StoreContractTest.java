package io.zlayer.worker.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The {@link Store} contract, run against every implementation (one subclass each). Revisions
 * are asserted relative to the store's revision at the start of a test: a fresh etcd starts at 1
 * and etcd's revision is shared by everything in the cluster.
 */
@ExtendWith(VertxExtension.class)
public abstract class StoreContractTest {

  protected Vertx vertx;
  protected Store store;

  /** A store to test; for a shared server, with keys no other test sees. */
  protected abstract Store open(Vertx vertx) throws Exception;

  /**
   * Drops the store's history up to {@code revision}. The embedded store keeps none: its replay is
   * always what a compacted etcd watch resumes with (current values, no past deletes).
   */
  protected abstract void compact(long revision);

  @BeforeEach
  void openStore(Vertx vertx) throws Exception {
    this.vertx = vertx;
    store = open(vertx);
  }

  @AfterEach
  void closeStore() {
    await(store.close());
  }

  public static <T> T await(Future<T> f) {
    try {
      return f.await(15, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  public static Throwable failure(Future<?> f) {
    try {
      f.await(15, TimeUnit.SECONDS);
    } catch (Exception e) {
      return e instanceof ExecutionException ? e.getCause() : e;
    }
    throw new AssertionError("expected a failure, got success");
  }

  @Test
  void revisionsAndKeyMetadata() {
    long r0 = await(store.revision());
    long r1 = await(store.put("m/a", "1"));
    assertTrue(r1 > r0, "a put bumps the revision");
    assertEquals(r1, await(store.revision()));
    assertEquals(new KeyValue("m/a", "1", r1, r1, 1), await(store.get("m/a")).orElseThrow());
    long r2 = await(store.put("m/a", "2"));
    assertTrue(r2 > r1);
    assertEquals(new KeyValue("m/a", "2", r1, r2, 2), await(store.get("m/a")).orElseThrow());
    assertTrue(await(store.delete("m/a")));
    long r3 = await(store.revision());
    assertTrue(r3 > r2, "a delete bumps the revision");
    assertTrue(await(store.get("m/a")).isEmpty());
    assertFalse(await(store.delete("m/a")), "deleting an absent key reports false");
    assertEquals(r3, await(store.revision()), "and changes nothing");
    long r4 = await(store.put("m/a", "3"));
    assertEquals(new KeyValue("m/a", "3", r4, r4, 1), await(store.get("m/a")).orElseThrow(),
        "a re-created key starts over");
  }

  @Test
  void compareAndSetTransactions() {
    TxnResult created = await(store.txn(List.of(Compare.absent("c/x")), List.of(Op.put("c/x", "1"), Op.put("c/y", "1"))));
    assertTrue(created.succeeded());
    KeyValue x = await(store.get("c/x")).orElseThrow();
    KeyValue y = await(store.get("c/y")).orElseThrow();
    assertEquals(created.revision(), x.modRevision());
    assertEquals(created.revision(), y.modRevision(), "all ops of a txn share one revision");

    TxnResult lost = await(store.txn(List.of(Compare.absent("c/x")), List.of(Op.put("c/x", "2"))));
    assertFalse(lost.succeeded());
    assertEquals(created.revision(), lost.revision(), "a failed compare writes nothing");
    assertEquals("1", await(store.get("c/x")).orElseThrow().value());

    TxnResult cas = await(store.txn(List.of(Compare.unchanged(x)), List.of(Op.put("c/x", "3"), Op.delete("c/y"))));
    assertTrue(cas.succeeded());
    assertEquals(new KeyValue("c/x", "3", created.revision(), cas.revision(), 2), await(store.get("c/x")).orElseThrow(),
        "a key compared and written in one txn keeps its create revision and counts one more version");
    assertTrue(await(store.get("c/y")).isEmpty());
    assertFalse(await(store.txn(List.of(Compare.unchanged(x)), List.of(Op.put("c/x", "4")))).succeeded(),
        "a stale modRevision loses");

    long rev = await(store.revision());
    assertEquals(new TxnResult(true, rev), await(store.txn(List.of(), List.of())), "no ops: no new revision");
    assertEquals(new TxnResult(true, rev), await(store.txn(List.of(), List.of(Op.delete("c/none")))),
        "only deletes of absent keys: no new revision");
    assertInstanceOf(IllegalArgumentException.class,
        failure(store.txn(List.of(), List.of(Op.put("c/z", "1"), Op.delete("c/z")))));
  }

  @Test
  void rangesByKeyAndAfterRevision() {
    long b = await(store.put("r/b", "b"));
    long a = await(store.put("r/a", "a"));
    await(store.put("r0", "sibling"));
    await(store.put("s/a", "other"));
    long c = await(store.put("r/c/deep", "c"));
    long b2 = await(store.put("r/b", "b2"));
    assertEquals(List.of("r/a", "r/b", "r/c/deep"), keys(await(store.range("r/"))));
    assertEquals(List.of("r/a", "r/c/deep", "r/b"), keys(await(store.rangeAfter("r/", b, 0))), "by modRevision");
    assertEquals(List.of("r/c/deep", "r/b"), keys(await(store.rangeAfter("r/", a, 0))), "after is exclusive");
    assertEquals(List.of("r/a", "r/c/deep"), keys(await(store.rangeAfter("r/", b, 2))), "limit");
    assertEquals(List.of(), await(store.rangeAfter("r/", b2, 0)));
    assertEquals(c, await(store.rangeAfter("r/", a, 1)).get(0).modRevision());
    // A store that reads a key and a range at one revision gives the same answers as the two reads.
    await(store.getAndRangeAfter("s/a", "r/", b, 2)).ifPresent(snapshot -> {
      assertEquals("other", snapshot.key().orElseThrow().value());
      assertEquals(List.of("r/a", "r/c/deep"), keys(snapshot.range()));
    });
    await(store.getAndRangeAfter("s/none", "r/", a, 0)).ifPresent(snapshot -> {
      assertTrue(snapshot.key().isEmpty());
      assertEquals(List.of("r/c/deep", "r/b"), keys(snapshot.range()));
    });
  }

  @Test
  void watchFromARevisionHasNoGapAndNoDuplicateUnderConcurrentWrites(VertxTestContext tc) {
    int replayed = 30;
    int live = 150;
    List<Long> before = new ArrayList<>();
    for (int i = 0; i < replayed + 10; i++) {
      before.add(await(store.put("w/k" + i, "v" + i)));
    }
    long from = before.get(9); // replay keys k10..k39, then the live writes
    Context ctx = vertx.getOrCreateContext();
    Map<String, Long> written = new HashMap<>();
    for (int i = 10; i < before.size(); i++) {
      written.put("w/k" + i, before.get(i));
    }
    List<WatchEvent> seen = new ArrayList<>();
    io.vertx.core.Promise<Void> allSeen = io.vertx.core.Promise.promise();
    ctx.runOnContext(v -> {
      store.watch("w/", from, e -> {
        tc.verify(() -> assertSame(ctx, Vertx.currentContext(), "events arrive on the watcher's context"));
        seen.add(e);
        if (seen.size() == replayed + live) {
          allSeen.complete();
        } else if (seen.size() > replayed + live) {
          tc.verify(() -> assertEquals("w/zz", e.kv().key(), "nothing after the last write but the sentinel"));
          tc.completeNow();
        }
      });
      // Writes race the watch's replay and start; other-prefix writes must not show up.
      List<Future<Long>> acks = new ArrayList<>();
      for (int i = 0; i < live; i++) {
        String key = "w/k" + (replayed + 10 + i);
        acks.add(store.put(key, "live").onSuccess(rev -> written.put(key, rev)));
        acks.add(store.put("x/" + i, "noise"));
      }
      Future.all(acks).compose(x -> allSeen.future()).onComplete(tc.succeeding(x -> tc.verify(() -> {
        long last = from;
        Map<String, Long> got = new HashMap<>();
        for (WatchEvent ev : seen) {
          assertEquals(WatchEvent.Type.PUT, ev.type());
          assertTrue(ev.kv().modRevision() > last, "revision order, no duplicate: " + ev);
          last = ev.kv().modRevision();
          got.put(ev.kv().key(), ev.kv().modRevision());
        }
        assertEquals(written, got, "exactly the writes after the watch's revision");
        // A sentinel write: a late duplicate or stray event would arrive before it.
        store.put("w/zz", "end").onFailure(tc::failNow);
      })));
    });
    awaitCompletion(tc);
  }

  @Test
  void watchSeesLiveDeletesAndStopsWhenCancelled(VertxTestContext tc) {
    long start = await(store.put("d/a", "1"));
    Context ctx = vertx.getOrCreateContext();
    List<WatchEvent> first = new ArrayList<>();
    ctx.runOnContext(v -> {
      Watch w1 = store.watch("d/", start, first::add);
      Watch w2 = store.watch("d/", start, e -> {
        if (e.kv().key().equals("d/a")) {
          tc.verify(() -> {
            assertEquals(WatchEvent.Type.DELETE, e.type());
            assertEquals(null, e.kv().value());
          });
          w1.cancel(); // nothing more may reach it, even what is queued
          store.put("d/b", "2").onFailure(tc::failNow);
        } else {
          tc.verify(() -> {
            assertEquals("d/b", e.kv().key());
            // The two watches' deliveries are not ordered with each other: the cancelled one may or
            // may not have seen the delete by then, but nothing after its cancel (d/b) reaches it.
            assertTrue(first.size() <= 1, "the cancelled watch saw at most the delete: " + first);
            first.forEach(seen -> assertEquals(WatchEvent.Type.DELETE, seen.type()));
          });
          tc.completeNow();
        }
      });
      // Delete once both watches are live: a delete is not replayed to a watch that starts after it.
      io.vertx.core.Future.all(w1.started(), w2.started()).compose(x -> store.delete("d/a")).onFailure(tc::failNow);
    });
    awaitCompletion(tc);
  }

  @Test
  void watchFromACompactedRevisionGetsCurrentValuesThenLiveChanges(VertxTestContext tc) {
    long start = await(store.put("h/a", "1"));
    await(store.put("h/b", "1"));
    long b2 = await(store.put("h/b", "2"));
    await(store.delete("h/a"));
    long c = await(store.put("h/c", "1"));
    await(store.put("other", "x"));
    compact(await(store.revision()));
    Context ctx = vertx.getOrCreateContext();
    List<WatchEvent> seen = new ArrayList<>();
    ctx.runOnContext(v -> store.watch("h/", start, e -> {
      seen.add(e);
      if (seen.size() == 2) {
        tc.verify(() -> assertEquals(List.of(new KeyValue("h/b", "2", start + 1, b2, 2),
            new KeyValue("h/c", "1", c, c, 1)), seen.stream().map(WatchEvent::kv).toList(),
            "the keys changed since the revision, current values in revision order; the delete of h/a is gone"));
        store.put("h/d", "live").onFailure(tc::failNow);
      } else if (seen.size() == 3) {
        tc.verify(() -> assertEquals("h/d", e.kv().key(), "then live changes, no duplicate"));
        tc.completeNow();
      }
    }).started().onFailure(tc::failNow));
    awaitCompletion(tc);
  }

  protected static void awaitCompletion(VertxTestContext tc) {
    try {
      assertTrue(tc.awaitCompletion(20, TimeUnit.SECONDS), "timed out");
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    if (tc.failed()) {
      throw new AssertionError(tc.causeOfFailure());
    }
  }

  private static List<String> keys(List<KeyValue> kvs) {
    return kvs.stream().map(KeyValue::key).toList();
  }
}
