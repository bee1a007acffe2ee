package io.zlayer.worker.store.etcd;

import io.vertx.core.Vertx;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.StoreContractTest;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The store contract on a real etcd; each test under a prefix of its own. */
class EtcdStoreContractTest extends StoreContractTest {
  private static final AtomicInteger TESTS = new AtomicInteger();
  static EtcdServer etcd;

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = new EtcdServer().start();
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    etcd.close();
  }

  @Override
  protected Store open(Vertx vertx) {
    return await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))
        .withPrefix("/contract" + TESTS.incrementAndGet() + "/")));
  }

  @Override
  protected void compact(long revision) {
    await(((EtcdStore) store).compact(revision));
  }
}
