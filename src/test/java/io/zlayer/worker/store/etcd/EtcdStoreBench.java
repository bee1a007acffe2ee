package io.zlayer.worker.store.etcd;

import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.Op;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Not a test: figures of the etcd store against a local etcd. Create-if-absent txns with N in
 * flight for a few seconds (txn/s, p50/p99), then put-to-watch-event latency, one at a time.
 * Run: java -cp target/test-classes:target/classes:$(cat cp.txt) io.zlayer.worker.store.etcd.EtcdStoreBench [inFlight] [seconds]
 */
public final class EtcdStoreBench {
  public static void main(String[] args) throws Exception {
    int inFlight = args.length > 0 ? Integer.parseInt(args[0]) : 64;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Vertx vertx = Vertx.vertx();
    try (EtcdServer etcd = new EtcdServer().start()) {
      EtcdStore store = EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))).await(10, TimeUnit.SECONDS);
      long[] lat = new long[5_000_000];
      AtomicInteger done = new AtomicInteger();
      AtomicInteger next = new AtomicInteger();
      Promise<Void> finished = Promise.promise();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      AtomicInteger running = new AtomicInteger(inFlight);
      Context ctx = vertx.getOrCreateContext();
      Runnable[] one = new Runnable[1];
      one[0] = () -> {
        if (System.nanoTime() > end) {
          if (running.decrementAndGet() == 0) {
            finished.complete();
          }
          return;
        }
        String key = "bench/" + next.getAndIncrement();
        long t0 = System.nanoTime();
        store.txn(List.of(Compare.absent(key)), List.of(Op.put(key, "x".repeat(200)))).onComplete(ar -> {
          if (ar.failed()) {
            finished.tryFail(ar.cause());
            return;
          }
          lat[done.getAndIncrement()] = System.nanoTime() - t0;
          one[0].run();
        });
      };
      long start = System.nanoTime();
      ctx.runOnContext(v -> {
        for (int i = 0; i < inFlight; i++) {
          one[0].run();
        }
      });
      finished.future().await(seconds + 30L, TimeUnit.SECONDS);
      double secs = (System.nanoTime() - start) / 1e9;
      long[] l = Arrays.copyOf(lat, done.get());
      Arrays.sort(l);
      System.out.printf("txn create-if-absent, %d in flight: %.0f txn/s, p50 %.1f ms, p99 %.1f ms (%d txns)%n",
          inFlight, done.get() / secs, l[l.length / 2] / 1e6, l[(int) (l.length * 0.99)] / 1e6, l.length);

      int n = 1000;
      long[] w = new long[n];
      long from = store.revision().await(10, TimeUnit.SECONDS);
      Promise<Void> all = Promise.promise();
      long[] sent = new long[1];
      AtomicInteger seen = new AtomicInteger();
      ctx.runOnContext(v -> {
        store.watch("lat/", from, e -> {
          int i = seen.getAndIncrement();
          w[i] = System.nanoTime() - sent[0];
          if (i + 1 == n) {
            all.complete();
          } else {
            sent[0] = System.nanoTime();
            store.put("lat/" + (i + 1), "x");
          }
        }).started().onSuccess(x -> {
          sent[0] = System.nanoTime();
          store.put("lat/0", "x");
        });
      });
      all.future().await(60, TimeUnit.SECONDS);
      Arrays.sort(w);
      System.out.printf("put to watch event, one at a time: p50 %.2f ms, p99 %.2f ms (%d puts)%n",
          w[n / 2] / 1e6, w[(int) (n * 0.99)] / 1e6, n);
      store.close().await(10, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
