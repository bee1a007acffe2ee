package io.zlayer.worker.store;

import io.vertx.core.Vertx;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedStoreContractTest extends StoreContractTest {
  @TempDir Path dir;

  @Override
  protected Store open(Vertx vertx) {
    return await(EmbeddedStore.open(vertx, dir));
  }

  @Override
  protected void compact(long revision) {
    // no history to drop
  }
}
