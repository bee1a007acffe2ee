package io.zlayer.worker.controller.core;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.store.etcd.EtcdServer;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.EtcdStoreOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two controllers' node directories on one etcd: a write compares the record's revision, so a
 * controller with a stale view cannot blindly overwrite another's change; it reads the record
 * again, hears of the change, and applies its own on top.
 */
@ExtendWith(VertxExtension.class)
class NodeDirectoryCasTest {
  @Test
  void aStaleControllerDoesNotOverwriteAnothersChange(Vertx vertx) throws Exception {
    try (EtcdServer etcd = new EtcdServer().start()) {
      EtcdStore a = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
      EtcdStore b = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
      try {
        Clock clock = Clock.systemUTC();
        long now = clock.instant().getEpochSecond();
        NodeRecord seed = new NodeRecord(7, NodeState.READY, new JsonObject(), "01", "sha-1", now + 3600, now,
            "grpc", "registered", null, null, now);
        await(a.put(seed.key(), seed.toJson().encode()));
        NodeDirectory first = await(new NodeDirectory(a, clock).load());
        NodeDirectory second = await(new NodeDirectory(b, clock).load());
        List<String> heard = new ArrayList<>();
        // Not following: the second directory's view of node 7 stays stale until its write.
        second.onChangedElsewhere((previous, next) -> heard.add(previous.state() + "->" + next.state()));

        await(first.update(7, r -> r.withState(NodeState.DRAINING, "operator drain", now)));
        NodeRecord written = await(second.update(7, r -> r.withCertificate("02", "sha-2", now + 7200)));

        assertEquals(NodeState.DRAINING, written.state(), "the drain through the first controller survived");
        assertEquals("sha-2", written.certSha256(), "and the second controller's change is on top of it");
        NodeRecord stored = NodeRecord.fromJson(new JsonObject(await(a.get(seed.key())).orElseThrow().value()), now);
        assertEquals(written, stored);
        assertEquals(List.of("READY->DRAINING"), heard, "the second controller heard of the drain");
        assertEquals(NodeState.DRAINING, second.get(7).orElseThrow().state());

        // And the first, now stale, does the same the other way round.
        NodeRecord back = await(first.update(7, r -> r.withState(NodeState.READY, "undrain", now)));
        assertEquals("sha-2", back.certSha256(), "the certificate change through the second controller survived");
      } finally {
        await(a.close());
        await(b.close());
      }
    }
  }
}
