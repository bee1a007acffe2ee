package io.zlayer.worker.store.etcd;

import static io.zlayer.worker.store.StoreContractTest.await;
import static io.zlayer.worker.store.StoreContractTest.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.StoreUnavailableException;
import io.zlayer.worker.store.WatchEvent;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** etcd going away under the store: fail fast, resume, and kill -9 during writes. */
@ExtendWith(VertxExtension.class)
class EtcdStoreFailureTest {
  private static final Logger log = LoggerFactory.getLogger(EtcdStoreFailureTest.class);
  private static final Duration TIMEOUT = Duration.ofSeconds(1);

  EtcdServer etcd;
  EtcdStore store;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    etcd = new EtcdServer().start();
    store = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint())).withRequestTimeout(TIMEOUT)));
  }

  @AfterEach
  void stop() throws Exception {
    await(store.close());
    etcd.close();
  }

  @Test
  void writesFailFastWhileEtcdIsDownAndWatchesResumeWhenItReturns(Vertx vertx) throws Exception {
    long from = await(store.revision());
    List<WatchEvent> seen = new CopyOnWriteArrayList<>();
    Promise<Void> sawLast = Promise.promise();
    Context ctx = vertx.getOrCreateContext();
    Promise<Void> started = Promise.promise();
    ctx.runOnContext(v -> store.watch("f/", from, e -> {
      seen.add(e);
      if (e.kv().key().equals("f/c")) {
        sawLast.complete();
      }
    }).started().onComplete(started));
    await(started.future());
    await(store.put("f/a", "1"));

    etcd.kill();
    long t0 = System.nanoTime();
    Throwable put = failure(store.put("f/b", "2"));
    Throwable txn = failure(store.txn(List.of(Compare.absent("f/b")), List.of(Op.put("f/b", "2"))));
    Throwable get = failure(store.get("f/a"));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    for (Throwable t : List.of(put, txn, get)) {
      assertInstanceOf(StoreUnavailableException.class, t);
      assertTrue(t.getMessage().contains(etcd.endpoint().substring(7)), "names the endpoint: " + t.getMessage());
    }
    assertTrue(ms < 3 * (TIMEOUT.toMillis() + 500), "three calls failed in " + ms + " ms");
    assertInstanceOf(StoreUnavailableException.class, failure(store.watch("f/", from, e -> { }).started()),
        "a new watch says it could not start");
    log.info("etcd down: put, txn and get failed in {} ms: {}", ms, put.getMessage());

    etcd.start();
    await(store.put("f/c", "3"));
    sawLast.future().await(10, TimeUnit.SECONDS);
    assertEquals(List.of("f/a", "f/c"), seen.stream().map(e -> e.kv().key()).toList(),
        "the watch resumed after the outage with no gap and no duplicate");
  }

  @Test
  void aHungEtcdFailsCallsWithinTheDeadline() throws Exception {
    await(store.put("h/a", "1"));
    etcd.pause();
    try {
      long t0 = System.nanoTime();
      Throwable put = failure(store.put("h/b", "2"));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertInstanceOf(StoreUnavailableException.class, put);
      assertTrue(put.getMessage().contains("outcome is unknown"), put.getMessage());
      assertTrue(ms >= TIMEOUT.toMillis() - 50 && ms < TIMEOUT.toMillis() + 1_500, "failed after " + ms + " ms");
      log.info("etcd hung: put failed after {} ms: {}", ms, put.getMessage());
    } finally {
      etcd.resume();
    }
    assertEquals("1", await(store.get("h/a")).orElseThrow().value(), "and works again once etcd answers");
  }

  @Test
  void killMinus9DuringWritesLosesNoAcknowledgedWriteAndLeavesNoHalfTxn(Vertx vertx) throws Exception {
    int inFlight = 32;
    int killAfter = 400;
    Set<Integer> acked = ConcurrentHashMap.newKeySet();
    AtomicInteger next = new AtomicInteger();
    AtomicInteger pending = new AtomicInteger();
    AtomicBoolean stopping = new AtomicBoolean();
    Promise<Void> enough = Promise.promise();
    Promise<Void> settled = Promise.promise();
    Context ctx = vertx.getOrCreateContext();
    long t0 = System.nanoTime();
    Runnable[] writer = new Runnable[1];
    writer[0] = () -> {
      if (stopping.get()) {
        if (pending.get() == 0) {
          settled.tryComplete();
        }
        return;
      }
      int i = next.getAndIncrement();
      pending.incrementAndGet();
      // Two keys in one txn: after the crash both exist or neither does.
      store.txn(List.of(Compare.absent("k/" + i + "/a")), List.of(Op.put("k/" + i + "/a", "" + i), Op.put("k/" + i + "/b", "" + i)))
          .onComplete(ar -> {
            pending.decrementAndGet();
            if (ar.succeeded() && ar.result().succeeded()) {
              acked.add(i);
              if (acked.size() >= killAfter) {
                enough.tryComplete();
              }
            } else {
              stopping.set(true);
            }
            writer[0].run();
          });
    };
    ctx.runOnContext(v -> {
      for (int n = 0; n < inFlight; n++) {
        writer[0].run();
      }
    });
    enough.future().await(20, TimeUnit.SECONDS);
    double seconds = (System.nanoTime() - t0) / 1e9;
    etcd.kill();
    settled.future().await(10, TimeUnit.SECONDS);
    int ackedAtKill = acked.size();
    log.info("kill -9 after {} acknowledged txns ({} issued; {} txn/s with {} in flight)",
        ackedAtKill, next.get(), Math.round(ackedAtKill / seconds), inFlight);

    etcd.start();
    Map<Integer, Map<String, String>> byTxn = new HashMap<>();
    for (KeyValue kv : await(store.range("k/"))) {
      String[] parts = kv.key().split("/");
      byTxn.computeIfAbsent(Integer.parseInt(parts[1]), x -> new HashMap<>()).put(parts[2], kv.value());
    }
    for (int i : acked) {
      assertEquals(Map.of("a", "" + i, "b", "" + i), byTxn.get(i), "acknowledged txn " + i + " survived whole");
    }
    byTxn.forEach((i, keys) -> assertEquals(Set.of("a", "b"), keys.keySet(), "txn " + i + " is whole, not half"));
    assertTrue(byTxn.size() >= acked.size());
    log.info("after restart: {} txns present ({} acknowledged, {} applied but unacknowledged)",
        byTxn.size(), acked.size(), byTxn.size() - acked.size());
  }
}
