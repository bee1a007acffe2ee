package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.Lease;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The legacy HTTP worker API end to end: register, long-poll wake-up, status, resume after restart. */
@ExtendWith(VertxExtension.class)
class LegacyApiTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private LegacyClient client;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(client, controller);
  }

  private long assign(Vertx vertx, long nodeId, String service) throws Exception {
    return await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId)
        .put("service", service).put("indices", new JsonArray().add(0)).put("command", "true"))).body().getLong("revision");
  }

  @Test
  void pollWakesOnAssignStatusRenewsAndPollingResumesAfterRestart(Vertx vertx) throws Exception {
    ControllerOptions options = TestCluster.controllerOptions(dir, new JsonObject());
    controller = TestCluster.startController(vertx, options);
    client = new LegacyClient(vertx, controller);
    JsonObject node = await(client.register(TestCluster.mint(controller).encode()));
    long nodeId = node.getLong("node_id");
    assertEquals(controller.controlPlane().clusterId(), node.getString("cluster_id"));
    assertEquals(10, node.getInteger("heartbeat_ttl_secs"));

    // Nothing yet: a poll with max_wait 0 answers at once, empty.
    JsonObject empty = await(client.poll(node, 0, 0)).json();
    assertTrue(empty.getJsonArray("events").isEmpty());
    long start = empty.getLong("revision");

    // A held poll wakes within 100 ms of the assignment.
    Future<LegacyClient.Reply> held = client.poll(node, start, 30);
    awaitHeld(vertx, 1);
    long t0 = System.nanoTime();
    long rev1 = assign(vertx, nodeId, "web");
    JsonObject woke = await(held).json();
    long wakeMs = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("legacy poll wake after assign: " + wakeMs + " ms");
    assertTrue(wakeMs < 100, "woke after " + wakeMs + " ms");
    JsonArray events = woke.getJsonArray("events");
    assertEquals(1, events.size());
    assertEquals("set", events.getJsonObject(0).getString("kind"));
    assertEquals("web", events.getJsonObject(0).getString("service"));
    assertEquals(rev1, events.getJsonObject(0).getLong("revision"));
    assertEquals(rev1, woke.getLong("revision"));

    // Status renews the lease and answers the TTL.
    long before = controller.controlPlane().leases().get(nodeId).map(Lease::renewedAtMillis).orElse(0L);
    LegacyClient.Reply status = await(client.post("/worker/status", new JsonObject().put("node_id", nodeId).put("ts_ns", 1)
        .put("containers", new JsonArray().add(new JsonObject().put("service", "web").put("role", "default")
            .put("replica", 0).put("state", "running")))
        .put("resources", new JsonObject().put("cpu_used", 0.1).put("memory_used_bytes", 1).put("gpu_used", 0)).encode(),
        node.getString("internal_token")));
    assertEquals(200, status.status(), status.body());
    assertEquals(10, status.json().getInteger("next_ttl_secs"));
    assertTrue(controller.controlPlane().leases().get(nodeId).orElseThrow().renewedAtMillis() >= before);
    assertEquals("running", controller.controlPlane().nodes().lastStatus(nodeId).orElseThrow().getContainers(0).getState());

    // Two more events, the worker has seen only rev1; restart the controller in between.
    long rev2 = assign(vertx, nodeId, "api");
    await(client.close());
    await(controller.stop());
    controller = TestCluster.startController(vertx, options);
    client = new LegacyClient(vertx, controller);
    long rev3 = assign(vertx, nodeId, "db");
    List<Long> seen = new ArrayList<>();
    long last = rev1;
    while (seen.size() < 2) {
      JsonObject reply = await(client.poll(node, last, 5)).json();
      reply.getJsonArray("events").forEach(e -> seen.add(((JsonObject) e).getLong("revision")));
      last = reply.getLong("revision");
    }
    assertEquals(List.of(rev2, rev3), seen, "no gap, no duplicate across the restart");
  }

  /** Waits until the controller holds {@code n} polls (parked, not in flight). */
  private void awaitHeld(Vertx vertx, int n) throws Exception {
    awaitPolls(vertx, controller, held -> held >= n);
  }

  /** Waits (bounded) until the controller's count of held polls satisfies {@code condition}. */
  static void awaitPolls(Vertx vertx, ControllerNode controller, java.util.function.IntPredicate condition) throws Exception {
    io.vertx.core.Promise<Void> held = io.vertx.core.Promise.promise();
    long timer = vertx.setPeriodic(10, id -> {
      if (condition.test(controller.controlPlane().polls().size())) {
        vertx.cancelTimer(id);
        held.tryComplete();
      }
    });
    await(held.future().timeout(20, java.util.concurrent.TimeUnit.SECONDS).onFailure(e -> vertx.cancelTimer(timer)));
  }
}
