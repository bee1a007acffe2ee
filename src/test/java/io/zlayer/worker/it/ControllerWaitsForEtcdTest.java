package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A controller started before etcd says so, retries with backoff, and starts once etcd is up. */
@ExtendWith(VertxExtension.class)
class ControllerWaitsForEtcdTest {
  @TempDir
  Path dir;

  @Test
  void aControllerStartedBeforeEtcdWaitsForIt(Vertx vertx) throws Exception {
    try (EtcdServer etcd = new EtcdServer()) {
      Future<ControllerNode> starting = ControllerNode.start(vertx, TestCluster.controllerOptions(dir, new JsonObject()
          .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint())))));
      await(TestCluster.delay(vertx, 500)); // let the first attempt fail (etcd is not there yet)
      assertFalse(starting.isComplete(), "the start waits instead of failing: " + starting.cause());
      etcd.start();
      ControllerNode controller = await(starting, Duration.ofSeconds(20));
      await(controller.stop());
    }
  }
}
