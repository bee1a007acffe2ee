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
import io.zlayer.worker.proto.ContainerStatus;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our worker over the legacy HTTP API ({@code protocol: http}), and the worker's loopback bridge
 * used by an independent external executor speaking raw frames over a plain socket.
 */
@ExtendWith(VertxExtension.class)
class WorkerBridgeTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
  }

  private long join(Vertx vertx, JsonObject overrides) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), overrides, controller.port());
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, options);
    agent = await(WorkerAgent.start(vertx, options));
    JsonObject session = await(up);
    assertEquals("http", session.getString("protocol"));
    return session.getLong("node_id");
  }

  private Future<List<ContainerStatus>> reported(Vertx vertx, long nodeId, Predicate<List<ContainerStatus>> done) {
    Promise<List<ContainerStatus>> promise = Promise.promise();
    long timer = vertx.setPeriodic(20, id -> controller.controlPlane().nodes().lastStatus(nodeId).ifPresent(r -> {
      if (done.test(r.getContainersList())) {
        vertx.cancelTimer(id);
        promise.tryComplete(r.getContainersList());
      }
    }));
    return promise.future().timeout(15, java.util.concurrent.TimeUnit.SECONDS).onFailure(e -> vertx.cancelTimer(timer));
  }

  @Test
  void legacyWorkerRunsAssignmentsWithTheProcessExecutor(Vertx vertx) throws Exception {
    long nodeId = join(vertx, new JsonObject().put("protocol", "http"));
    assertEquals("http", controller.controlPlane().nodes().get(nodeId).orElseThrow().protocol());
    await(vertx.eventBus().request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId)
        .put("service", "web").put("indices", new JsonArray().add(0).add(1)).put("command", "sleep 1000")));
    List<ContainerStatus> running = await(reported(vertx, nodeId,
        c -> SessionStreamsTest.running(c, "web") == 2));
    assertEquals(2, running.size());
    await(vertx.eventBus().request(Addresses.OPERATOR_UNASSIGN, new JsonObject().put("node_id", nodeId).put("service", "web")));
    await(reported(vertx, nodeId, c -> SessionStreamsTest.running(c, "web") == 0));
  }

  @Test
  void anIndependentBridgeClientReceivesAssignmentsAndAnswersAsTheExecutor(Vertx vertx) throws Exception {
    int bridgePort = TestCluster.freePort();
    long nodeId = join(vertx, new JsonObject().put("protocol", "http").put("executor", "external").put("bridge_port", bridgePort));
    String secret = Files.readString(dir.resolve("worker").resolve("bridge.token")).trim();

    try (Socket socket = new Socket("127.0.0.1", bridgePort)) {
      socket.setSoTimeout(20_000);
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      DataInputStream in = new DataInputStream(socket.getInputStream());
      JsonObject auth = new JsonObject().put("bridge_token", secret);
      // Without the token the bridge refuses.
      write(out, new JsonObject().put("type", "register").put("address", Addresses.WORKER_ASSIGNMENTS));
      assertEquals("err", read(in).getString("type"));
      write(out, new JsonObject().put("type", "register").put("address", Addresses.WORKER_ASSIGNMENTS).put("headers", auth));
      write(out, new JsonObject().put("type", "register").put("address", Addresses.WORKER_EXECUTOR_SNAPSHOT).put("headers", auth));
      // The bridge does not ack subscriptions: ask for a report; the snapshot request that follows
      // proves both subscriptions (handled in order) are live, and only then is the assignment made.
      write(out, new JsonObject().put("type", "send").put("address", Addresses.WORKER_REPORT_NOW)
          .put("headers", auth).put("body", new JsonObject()));
      boolean assigned = false;
      JsonObject assignment = null;
      boolean answered = false;
      long deadline = System.currentTimeMillis() + 20_000;
      while ((assignment == null || !answered) && System.currentTimeMillis() < deadline) {
        JsonObject frame = read(in);
        String address = frame.getString("address");
        if (Addresses.WORKER_ASSIGNMENTS.equals(address)) {
          assignment = frame.getJsonObject("body");
          // We changed what runs: ask the worker to report now.
          write(out, new JsonObject().put("type", "send").put("address", Addresses.WORKER_REPORT_NOW)
              .put("headers", auth).put("body", new JsonObject()));
        } else if (Addresses.WORKER_EXECUTOR_SNAPSHOT.equals(address) && frame.getString("replyAddress") != null) {
          if (!assigned) {
            assigned = true;
            vertx.eventBus().request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId)
                .put("service", "ext").put("indices", new JsonArray().add(3)).put("command", "run-it-yourself"));
          }
          JsonArray containers = new JsonArray();
          if (assignment != null) {
            containers.add(new JsonObject().put("service", "ext").put("role", "default").put("replica", 3)
                .put("state", "running").put("pid", 4242).put("restarts", 0));
            answered = true;
          }
          write(out, new JsonObject().put("type", "send").put("address", frame.getString("replyAddress"))
              .put("headers", auth).put("body", new JsonObject().put("state", "ready").put("containers", containers)
                  .put("resources", new JsonObject().put("cpu_used", 0.25).put("memory_used_bytes", 1024).put("gpu_used", 0))));
        }
      }
      assertTrue(assignment != null, "the external executor received the assignment");
      assertEquals("set", assignment.getString("kind"));
      assertEquals("run-it-yourself", assignment.getJsonObject("spec").getString("command"));
      List<ContainerStatus> reported = await(reported(vertx, nodeId, c -> c.stream().anyMatch(x -> x.getPid() == 4242)));
      assertEquals("ext", reported.get(0).getService());
      assertEquals(3, reported.get(0).getReplica());
    }
  }

  private static void write(DataOutputStream out, JsonObject frame) throws Exception {
    byte[] bytes = frame.encode().getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
    out.flush();
  }

  private static JsonObject read(DataInputStream in) throws Exception {
    byte[] bytes = new byte[in.readInt()];
    in.readFully(bytes);
    return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
  }
}
