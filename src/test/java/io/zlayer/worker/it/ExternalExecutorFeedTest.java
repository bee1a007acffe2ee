package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14: the external executor over the worker's bridge is fed at least once. A real bridge
 * client (raw TCP event-bus bridge frames on a plain socket) acknowledges what it applies,
 * disconnects, misses assignments, comes back and receives them; an event it did not acknowledge
 * is sent again, also across a restart of the agent (resumed from the last acknowledgement).
 */
@ExtendWith(VertxExtension.class)
class ExternalExecutorFeedTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
  }

  /** One connection of the external executor. */
  private static final class Executor implements AutoCloseable {
    private final Socket socket;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final JsonObject auth;
    private int replies;

    Executor(int port, String secret) throws Exception {
      socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout(20_000);
      out = new DataOutputStream(socket.getOutputStream());
      in = new DataInputStream(socket.getInputStream());
      auth = new JsonObject().put("bridge_token", secret);
      write(new JsonObject().put("type", "register").put("address", Addresses.WORKER_ASSIGNMENTS).put("headers", auth));
    }

    /** A request; its reply comes back as a message to a reply address of our own. */
    String request(String address, JsonObject body) throws Exception {
      String replyTo = "executor.reply." + (++replies);
      write(new JsonObject().put("type", "send").put("address", address).put("replyAddress", replyTo)
          .put("headers", auth).put("body", body));
      return replyTo;
    }

    /**
     * Reads frames until the reply to {@code replyTo} and every assignment of {@code services}
     * arrived; returns the assignments by service (the last of each) and the reply under "reply".
     */
    Map<String, JsonObject> until(String replyTo, List<String> services) throws Exception {
      Map<String, JsonObject> seen = new LinkedHashMap<>();
      long deadline = System.currentTimeMillis() + 20_000;
      while (System.currentTimeMillis() < deadline
          && !(seen.containsKey("reply") || replyTo == null) | !seen.keySet().containsAll(services)) {
        JsonObject frame = read();
        if ("err".equals(frame.getString("type"))) {
          if (replyTo != null && replyTo.equals(frame.getString("address"))) {
            seen.put("reply", frame); // the request was refused: the refusal is its answer
            continue;
          }
          throw new AssertionError("bridge refused: " + frame);
        }
        if (Addresses.WORKER_ASSIGNMENTS.equals(frame.getString("address"))) {
          JsonObject event = frame.getJsonObject("body");
          seen.put(event.getString("service", event.getString("kind")), event);
        } else if (replyTo != null && replyTo.equals(frame.getString("address"))) {
          seen.put("reply", frame.getJsonObject("body"));
        }
      }
      assertTrue(seen.keySet().containsAll(services) && (replyTo == null || seen.containsKey("reply")),
          "wanted " + services + " and a reply, got " + seen.keySet());
      return seen;
    }

    JsonObject ack(long revision) throws Exception {
      return until(request(Addresses.WORKER_EXECUTOR_ACK, new JsonObject().put("revision", revision)), List.of()).get("reply");
    }

    private void write(JsonObject frame) throws Exception {
      byte[] bytes = frame.encode().getBytes(StandardCharsets.UTF_8);
      out.writeInt(bytes.length);
      out.write(bytes);
      out.flush();
    }

    private JsonObject read() throws Exception {
      byte[] bytes = new byte[in.readInt()];
      in.readFully(bytes);
      return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws Exception {
      socket.close();
    }
  }

  private long assign(Vertx vertx, long nodeId, String service) throws Exception {
    return await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId)
        .put("service", service).put("indices", new JsonArray().add(0)).put("command", "run " + service)))
        .body().getLong("revision");
  }

  /** Waits (bounded) until the worker received {@code revision} from the controller. */
  private void received(Vertx vertx, long revision) throws Exception {
    assertTrue(await(StreamLifecycleTest.settled(vertx, () -> agent.context().state().lastRevision() >= revision)),
        "the worker did not receive revision " + revision);
  }

  @Test
  void missedAssignmentsAreReplayedOnReturnAndUnacknowledgedOnesAgain(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    int bridgePort = TestCluster.freePort();
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"),
        new JsonObject().put("executor", "external").put("bridge_port", bridgePort), controller.port());
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, options);
    agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");
    String secret = Files.readString(dir.resolve("worker").resolve("bridge.token")).trim();
    List<String> figures = new ArrayList<>();

    long revA;
    try (Executor executor = new Executor(bridgePort, secret)) {
      // Attached (its reply proves the subscription is live), nothing pending yet.
      assertEquals(0, executor.until(executor.request(Addresses.WORKER_EXECUTOR_ATTACH, new JsonObject()), List.of())
          .get("reply").getInteger("replayed"));
      revA = assign(vertx, nodeId, "a");
      assertEquals(revA, executor.until(null, List.of("a")).get("a").getLong("revision"));
      JsonObject acked = executor.ack(revA);
      assertEquals(revA, acked.getLong("acked_revision"));
      assertEquals(0, acked.getInteger("pending"));
      // A wrong acknowledgement is refused, naming the field.
      String bad = executor.request(Addresses.WORKER_EXECUTOR_ACK, new JsonObject().put("revision", "soon"));
      JsonObject refused = executor.until(bad, List.of()).get("reply");
      assertEquals(400, refused.getInteger("failureCode"), refused.encode());
      assertTrue(refused.getString("message").startsWith("revision must be"), refused.encode());
    }

    // Away: two assignments it does not see.
    long revB = assign(vertx, nodeId, "b");
    long revC = assign(vertx, nodeId, "c");
    received(vertx, revC);
    long revD;
    try (Executor executor = new Executor(bridgePort, secret)) {
      Map<String, JsonObject> back = executor.until(executor.request(Addresses.WORKER_EXECUTOR_ATTACH, new JsonObject()),
          List.of("b", "c"));
      assertEquals(2, back.get("reply").getInteger("replayed"));
      assertEquals(revA, back.get("reply").getLong("acked_revision"));
      assertEquals(revB, back.get("b").getLong("revision"));
      assertEquals(revC, back.get("c").getLong("revision"));
      assertTrue(!back.containsKey("a"), "an acknowledged event is not sent again");
      figures.add("2 missed while away replayed on attach");
      assertEquals(0, executor.ack(revC).getInteger("pending"));
      // Received but never acknowledged (the executor dies before applying it).
      revD = assign(vertx, nodeId, "d");
      executor.until(null, List.of("d"));
    }
    assertEquals(revC, new JsonObject(Files.readString(dir.resolve("worker").resolve("external-executor.json")))
        .getLong("acked_revision"));

    // The agent restarts while an assignment is made: it resumes from the acknowledged revision, so
    // the unacknowledged d comes again, with e.
    await(agent.stop(false));
    agent = null;
    long revE = assign(vertx, nodeId, "e");
    up = WorkerJoinTest.sessionEvent(vertx, "up");
    agent = await(WorkerAgent.start(vertx, options));
    await(up);
    received(vertx, revE);
    try (Executor executor = new Executor(bridgePort, secret)) {
      Map<String, JsonObject> back = executor.until(executor.request(Addresses.WORKER_EXECUTOR_ATTACH, new JsonObject()),
          List.of("d", "e"));
      assertEquals(revD, back.get("d").getLong("revision"));
      assertEquals(revE, back.get("e").getLong("revision"));
      assertTrue(!back.containsKey("b") && !back.containsKey("c"), "acknowledged events are not replayed: " + back.keySet());
      assertEquals(0, executor.ack(revE).getInteger("pending"));
      figures.add("1 unacknowledged + 1 made while the agent was down replayed after its restart");
    }
    System.out.println("external executor at least once: " + String.join("; ", figures));
  }
}
