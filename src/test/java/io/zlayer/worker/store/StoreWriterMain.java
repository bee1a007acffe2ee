package io.zlayer.worker.store;

import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Child process for {@link EmbeddedStoreCrashTest}: writes k0, k1, ... one at a time and prints
 * "acked i" only after the store acknowledged key i. Runs until killed (or max keys).
 */
public final class StoreWriterMain {

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int max = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
    Vertx vertx = Vertx.vertx();
    EmbeddedStore store = EmbeddedStore.open(vertx, dir).await(30, TimeUnit.SECONDS);
    for (int i = 0; i < max; i++) {
      store.put("k" + i, "value-" + i).await(30, TimeUnit.SECONDS);
      System.out.println("acked " + i);
      System.out.flush();
    }
    store.close().await(30, TimeUnit.SECONDS);
    vertx.close().await(30, TimeUnit.SECONDS);
  }
}
