package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodeState;
import io.zlayer.worker.proto.ContainerStatus;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A real worker agent and controller: assignments, status, drain and failover over gRPC/mTLS. */
@ExtendWith(VertxExtension.class)
class SessionStreamsTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
  }

  private long join(Vertx vertx, JsonObject workerOverrides, int... ports) throws Exception {
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), workerOverrides, ports);
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, options);
    agent = await(WorkerAgent.start(vertx, options));
    return await(up).getLong("node_id");
  }

  /** Completes when the controller's last status report of the node satisfies the predicate. */
  private Future<List<ContainerStatus>> reported(Vertx vertx, long nodeId, Predicate<List<ContainerStatus>> done) {
    Promise<List<ContainerStatus>> promise = Promise.promise();
    long timer = vertx.setPeriodic(20, id -> controller.controlPlane().nodes().lastStatus(nodeId).ifPresent(report -> {
      if (done.test(report.getContainersList())) {
        vertx.cancelTimer(id);
        promise.tryComplete(report.getContainersList());
      }
    }));
    return promise.future().timeout(15, java.util.concurrent.TimeUnit.SECONDS).onFailure(e -> vertx.cancelTimer(timer));
  }

  private JsonObject operator(Vertx vertx, String address, JsonObject body) throws Exception {
    return await(vertx.eventBus().<JsonObject>request(address, body)).body();
  }

  static long running(List<ContainerStatus> containers, String service) {
    return containers.stream().filter(c -> c.getService().equals(service) && c.getState().equals("running")).count();
  }

  @Test
  void assignStartsProcessesControllerSeesThemUnassignStopsThem(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    long nodeId = join(vertx, new JsonObject(), controller.port());

    long t0 = System.nanoTime();
    Future<JsonObject> received = Future.future(p -> vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_ASSIGNMENTS,
        m -> p.tryComplete(m.body())));
    operator(vertx, Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId).put("service", "web")
        .put("indices", new JsonArray().add(0).add(1)).put("command", "sleep 1000").put("env", new JsonObject().put("A", "1")));
    await(received);
    List<ContainerStatus> up = await(reported(vertx, nodeId, c -> running(c, "web") == 2));
    System.out.printf("assign -> worker received: n/a; assign -> controller sees 2 running: %d ms%n",
        (System.nanoTime() - t0) / 1_000_000);
    assertEquals(2, up.stream().map(ContainerStatus::getPid).distinct().count());
    for (ContainerStatus c : up) {
      assertTrue(ProcessHandle.of(c.getPid()).map(ProcessHandle::isAlive).orElse(false), "pid " + c.getPid() + " runs");
    }

    operator(vertx, Addresses.OPERATOR_UNASSIGN, new JsonObject().put("node_id", nodeId).put("service", "web"));
    await(reported(vertx, nodeId, c -> running(c, "web") == 0));
    for (ContainerStatus c : up) {
      long pid = c.getPid();
      await(Future.fromCompletionStage(ProcessHandle.of(pid).map(ProcessHandle::onExit)
          .orElse(java.util.concurrent.CompletableFuture.completedFuture(null))), java.time.Duration.ofSeconds(10));
    }
  }

  @Test
  void drainWithDeadlineStopsProcessesAndNodeShowsDraining(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    long nodeId = join(vertx, new JsonObject(), controller.port());
    operator(vertx, Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId).put("service", "web")
        .put("indices", new JsonArray().add(0)).put("command", "trap '' TERM; while true; do sleep 0.2; done"));
    await(reported(vertx, nodeId, c -> running(c, "web") == 1));

    long t0 = System.nanoTime();
    operator(vertx, Addresses.OPERATOR_DRAIN, new JsonObject().put("node_id", nodeId).put("deadline_secs", 1));
    assertEquals(NodeState.DRAINING, controller.controlPlane().nodes().get(nodeId).orElseThrow().state());
    await(reported(vertx, nodeId, c -> running(c, "web") == 0));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < 8_000, "a TERM-ignoring process was killed by the 1 s deadline, took " + ms + " ms");
    // No new work while draining: refused with FAILED_PRECONDITION (409 on the bridge) and a message.
    var refused = org.junit.jupiter.api.Assertions.assertThrows(io.vertx.core.eventbus.ReplyException.class, () ->
        operator(vertx, Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId).put("service", "api")
            .put("indices", new JsonArray().add(0)).put("command", "sleep 1000")));
    assertEquals(409, refused.failureCode());
    assertTrue(refused.getMessage().contains("is draining"), refused.getMessage());
    JsonObject snapshot = await(vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_SNAPSHOT, new JsonObject())).body();
    assertEquals("draining", snapshot.getString("state"));
    assertTrue(snapshot.getJsonArray("containers").stream()
        .noneMatch(c -> "api".equals(((JsonObject) c).getString("service"))), snapshot.encode());

    // Undrain: the node is ready again and its worker runs its assigned service again.
    assertEquals("ready", operator(vertx, Addresses.OPERATOR_UNDRAIN, new JsonObject().put("node_id", nodeId))
        .getString("state"));
    await(reported(vertx, nodeId, c -> running(c, "web") == 1));
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(nodeId).orElseThrow().state());
  }

  @Test
  void withTheFirstServerDeadTheWorkerRunsViaTheSecond(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    int dead = TestCluster.freePort();
    Future<JsonObject> failed = WorkerJoinTest.sessionEvent(vertx, "failed");
    long nodeId = join(vertx, new JsonObject(), dead, controller.port());
    assertTrue(await(failed).getString("server").endsWith(":" + dead), "the dead server was tried first");
    assertTrue(nodeId > 0);
    await(reported(vertx, nodeId, c -> true));
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(nodeId).orElseThrow().state());
  }

  @Test
  void shutdownCommandDeregistersAndAsksTheProcessToExitZero(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    long nodeId = join(vertx, new JsonObject(), controller.port());
    operator(vertx, Addresses.OPERATOR_SHUTDOWN, new JsonObject().put("node_id", nodeId).put("reason", "test"));
    assertEquals(0, await(agent.exit()));
    assertEquals(NodeState.DEREGISTERED, controller.controlPlane().nodes().get(nodeId).orElseThrow().state());
  }

  @Test
  void pushConfigAppliesLabelsAndReportsARefusal(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    long nodeId = join(vertx, new JsonObject(), controller.port());
    operator(vertx, Addresses.OPERATOR_PUSH_CONFIG, new JsonObject().put("node_id", nodeId).put("version", 2)
        .put("yaml", "labels:\n  zone: eu\n  rack: r7\n"));
    await(pollLabels(vertx, nodeId, "r7"));
    long refused = operator(vertx, Addresses.OPERATOR_PUSH_CONFIG, new JsonObject().put("node_id", nodeId).put("version", 3)
        .put("yaml", "servers: [https://evil:1]\n")).getLong("command_id");
    Promise<String> reported = Promise.promise();
    vertx.setPeriodic(20, id -> controller.controlPlane().nodes().commandResults(nodeId).stream()
        .filter(r -> r.getCommandId() == refused && !r.getOk()).findFirst().ifPresent(r -> {
          vertx.cancelTimer(id);
          reported.tryComplete(r.getMessage());
        }));
    String message = await(reported.future().timeout(15, java.util.concurrent.TimeUnit.SECONDS));
    assertTrue(message.contains("servers: cannot be changed"), message);
    assertEquals("r7", agent.context().labels().get("rack"), "a refused config changes nothing");
  }

  private Future<Void> pollLabels(Vertx vertx, long nodeId, String rack) {
    Promise<Void> promise = Promise.promise();
    vertx.setPeriodic(20, id -> controller.controlPlane().nodes().lastStatus(nodeId).ifPresent(r -> {
      if (rack.equals(r.getLabelsMap().get("rack"))) {
        vertx.cancelTimer(id);
        promise.tryComplete();
      }
    }));
    return promise.future().timeout(15, java.util.concurrent.TimeUnit.SECONDS);
  }
}
