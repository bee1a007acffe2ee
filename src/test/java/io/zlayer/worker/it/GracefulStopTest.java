package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Leaving;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A single controller's graceful restart: before it goes it tells its worker why (gRPC: the watch
 * streams end UNAVAILABLE "controller shutting down", then GOAWAY; legacy: the held poll is answered
 * 503 with the reason), and the worker, instead of backing off (1, 2, 4 ... s), retries in short
 * steps: it is back as soon as the controller listens again.
 */
@ExtendWith(VertxExtension.class)
class GracefulStopTest {
  /** How long the controller stays away: a backing-off worker would then wait until ~7 s (1 + 2 + 4). */
  private static final long AWAY_MS = 3_500;

  @TempDir
  Path dir;
  private ControllerNode controller;
  private WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpc", "http"})
  void aWorkerIsBackAsSoonAsItsControllerRestarted(String protocol, Vertx vertx) throws Exception {
    ControllerOptions options = TestCluster.controllerOptions(dir, new JsonObject());
    controller = TestCluster.startController(vertx, options);
    WorkerOptions workerOptions = TestCluster.workerOptions(dir.resolve("worker"),
        new JsonObject().put("protocol", protocol), controller.port());
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, workerOptions);
    agent = await(WorkerAgent.start(vertx, workerOptions));
    long nodeId = await(up).getLong("node_id");

    List<JsonObject> failures = new CopyOnWriteArrayList<>();
    var consumer = vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION, m -> {
      if ("failed".equals(m.body().getString("state"))) {
        failures.add(m.body());
      }
    });
    Future<JsonObject> down = WorkerJoinTest.sessionEvent(vertx, "down");
    long t0 = System.nanoTime();
    await(controller.stop());
    long stopMs = (System.nanoTime() - t0) / 1_000_000;
    controller = null;
    JsonObject lost = await(down);
    assertTrue(lost.getString("cause").contains(Leaving.REASON), "the worker heard why: " + lost.encode());

    await(TestCluster.delay(vertx, AWAY_MS)); // the restart's downtime (the scenario, not a synchronisation)
    Future<JsonObject> back = WorkerJoinTest.sessionEvent(vertx, "up");
    controller = TestCluster.startController(vertx, options);
    long startedAt = System.nanoTime();
    JsonObject again = await(back, Duration.ofSeconds(15));
    long backMs = (System.nanoTime() - startedAt) / 1_000_000;
    consumer.unregister();
    System.out.printf("graceful restart (%s): stop took %d ms; worker back %d ms after the controller started "
        + "(%d failed attempts while it was away %d ms)%n", protocol, stopMs, backMs, failures.size(), AWAY_MS);
    assertEquals(nodeId, again.getLong("node_id"));
    assertTrue(backMs < 1_000, "back as soon as the controller listens, not after a backoff: " + backMs + " ms");
    assertTrue(failures.size() >= 5, "it retried in short steps while the controller was away: " + failures.size());
    assertTrue(failures.size() <= 4 * AWAY_MS / 1000 * 2, "steps of ~250 ms, not a tight loop: " + failures.size());
  }
}
