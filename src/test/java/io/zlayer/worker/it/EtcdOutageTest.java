package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.Lease;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd down under a running controller and its worker: writes fail fast with UNAVAILABLE and a
 * message, the worker's streams stay open and its heartbeats go on in memory; when etcd returns, a
 * write goes through and reaches the worker over the same session.
 */
@ExtendWith(VertxExtension.class)
class EtcdOutageTest {
  @TempDir
  Path dir;
  EtcdServer etcd;
  ControllerNode controller;
  WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
    if (etcd != null) {
      etcd.close();
    }
  }

  private static JsonObject assign(String service) {
    return new JsonObject().put("service", service).put("role", "default")
        .put("indices", new JsonArray().add(0)).put("command", "sleep 1000").put("env", new JsonObject());
  }

  @Test
  void streamsStayOpenAndHeartbeatsGoOnWhileEtcdIsDown(Vertx vertx) throws Exception {
    etcd = new EtcdServer().start();
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
        .put("heartbeat_min_ttl", "2s").put("heartbeat_grace", "2s")
        .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint())))));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject()
        .put("executor", "external").put("heartbeat_min_ttl", "2s").put("heartbeat_grace", "2s"), controller.port());
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, options);
    agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");

    List<JsonObject> sessionEvents = new CopyOnWriteArrayList<>();
    var sessions = vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION, m -> sessionEvents.add(m.body()));
    etcd.kill();
    Lease before = controller.controlPlane().leases().get(nodeId).orElseThrow();

    long t0 = System.nanoTime();
    ReplyException reply = assertThrows(ReplyException.class, () -> await(vertx.eventBus()
        .request(Addresses.OPERATOR_ASSIGN, assign("during").put("node_id", nodeId))));
    long refusedMs = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(503, reply.failureCode(), reply.getMessage());
    assertTrue(reply.getMessage().contains("store is unreachable"), reply.getMessage());
    assertTrue(refusedMs < 3_000, "failed fast: " + refusedMs + " ms");

    // With etcd down, reports (ttl 2 s: about one a second) renew the lease in memory: two renewals
    // past the outage's start, and at least 4 s (ttl + grace) down, so a lease kept by nothing would expire.
    long killedAt = System.nanoTime();
    long outageEnd = killedAt + Duration.ofSeconds(10).toNanos();
    Lease during = before;
    while (System.nanoTime() < outageEnd && (during.renewedAtMillis() < before.renewedAtMillis() + 1_500
        || System.nanoTime() - killedAt < Duration.ofSeconds(4).toNanos())) {
      await(TestCluster.delay(vertx, 100)); // poll period of an in-memory lease
      during = controller.controlPlane().leases().get(nodeId).orElseThrow();
    }
    assertTrue(during.renewedAtMillis() >= before.renewedAtMillis() + 1_500,
        "heartbeats went on in memory: " + before + " -> " + during);
    assertEquals(List.of(), sessionEvents, "the session stayed up, its streams open");

    Future<JsonObject> delivered = Future.future(p -> vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_ASSIGNMENTS,
        m -> {
          if (m.body().encode().contains("after")) {
            p.tryComplete(m.body());
          }
        }));
    etcd.start();
    // The first write after etcd returns may race the client's reconnect: retried for a bounded while.
    JsonObject answer = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (answer == null) {
      try {
        answer = await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_ASSIGN,
            assign("after").put("node_id", nodeId))).body();
      } catch (ReplyException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        await(TestCluster.delay(vertx, 200)); // retry period of a write refused while etcd comes back
      }
    }
    assertTrue(answer.getLong("revision") > 0, answer.encode());
    await(delivered, Duration.ofSeconds(10));
    sessions.unregister();
    assertEquals(List.of(), sessionEvents, "the same session received it");
    assertEquals("ready", controller.controlPlane().nodes().get(nodeId).orElseThrow().state().wire());
  }
}
