package io.zlayer.worker.store;

import static org.junit.jupiter.api.Assertions.assertSame;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store future completes on the context that called the store, never on the store thread:
 * the controller answers requests from these continuations, on their connection's event loop.
 */
@ExtendWith(VertxExtension.class)
class StoreCallbackContextTest {
  @TempDir
  Path dir;

  @Test
  void readsAndWritesCompleteOnTheCallersContext(Vertx vertx, VertxTestContext test) {
    EmbeddedStore.open(vertx, dir).onComplete(test.succeeding(store -> {
      Context caller = vertx.getOrCreateContext();
      caller.runOnContext(v -> store.txn(List.of(Compare.absent("k")), List.of(Op.put("k", "v")))
          .compose(result -> {
            test.verify(() -> assertSame(caller, Vertx.currentContext(), "txn continued on the caller's context"));
            return store.get("k");
          })
          .compose(found -> {
            test.verify(() -> assertSame(caller, Vertx.currentContext(), "get continued on the caller's context"));
            return store.close();
          })
          .onComplete(test.succeedingThenComplete()));
    }));
  }
}
