package io.zlayer.worker.store.etcd;

import static io.zlayer.worker.store.StoreContractTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.store.Op;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The controller's connections to etcd do not count etcd's stream resets (see
 * {@link EtcdRstAllowance}): the reflection that takes Netty's counter out still finds its pieces,
 * and a burst of concurrent compare-and-set txns, of the shape a registration storm sends, all
 * succeed on one connection.
 */
@ExtendWith(VertxExtension.class)
class EtcdRstAllowanceTest {

  @Test
  void resetsFromEtcdDoNotCloseTheConnection(Vertx vertx) throws Exception {
    try (EtcdServer etcd = new EtcdServer().start()) {
      long before = EtcdRstAllowance.lifted();
      EtcdStore store = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
      try {
        assertTrue(EtcdRstAllowance.lifted() > before,
            "the reset counter was not taken out of the connection to etcd: a Vert.x or Netty upgrade moved it");
        int lanes = 256;
        int perLane = 12;
        List<Future<Integer>> all = new ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
          String key = "rst/" + lane;
          Future<Integer> chain = Future.succeededFuture(0);
          for (int i = 0; i < perLane; i++) {
            chain = chain.compose(done -> store.txn(List.of(), List.of(Op.put(key, "v" + done)))
                .map(r -> r.succeeded() ? done + 1 : done));
          }
          all.add(chain);
        }
        int ok = 0;
        for (Future<Integer> f : all) {
          ok += await(f);
        }
        assertEquals(lanes * perLane, ok, "every txn of the burst succeeded");
      } finally {
        await(store.close());
      }
    }
  }
}
