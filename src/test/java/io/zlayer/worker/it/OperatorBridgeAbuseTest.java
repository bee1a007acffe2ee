package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.controller.ControllerNode;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14 item 8: the operator bridge caps frames before reading them and checks every body strictly. */
@ExtendWith(VertxExtension.class)
class OperatorBridgeAbuseTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private LoopLag lag;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    lag = LoopLag.start(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    lag.close();
    await(controller.stop());
  }

  @Test
  void anUnauthenticated100MbFrameIsRefusedBeforeItIsRead() throws Exception {
    long before = lag.excluding(OperatorBridgeAbuseTest::usedHeap);
    int port = controller.controlPlane().options().bridgePort();
    for (int i = 0; i < 4; i++) {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        socket.setSoTimeout(10_000);
        DataOutputStream out = new DataOutputStream(socket.getOutputStream());
        out.writeInt(100 * 1024 * 1024);
        try {
          out.write(new byte[64 * 1024]);
          out.flush();
        } catch (SocketException closedEarly) {
          // the controller may close before all of it is written
        }
        DataInputStream in = new DataInputStream(socket.getInputStream());
        int length = in.readInt();
        byte[] frame = new byte[length];
        in.readFully(frame);
        JsonObject err = new JsonObject(new String(frame, StandardCharsets.UTF_8));
        assertEquals("err", err.getString("type"));
        assertTrue(err.getString("message").contains("frame_too_large"), err.encode());
        assertThrows(EOFException.class, in::readInt, "the connection is closed");
      }
    }
    long grown = (lag.excluding(OperatorBridgeAbuseTest::usedHeap) - before) >> 20;
    System.out.printf("abuse bridge-frame: 4 announced 100 MiB frames refused, heap %+d MiB, %s%n", grown, lag.figure());
    assertTrue(lag.withinBound(), lag.figure());
    assertTrue(grown < 64, "heap grew " + grown + " MiB");
    // The bridge still serves an operator.
    try (OperatorBridge bridge = new OperatorBridge("127.0.0.1", port, controller.controlPlane().adminToken())) {
      assertTrue(bridge.request(Addresses.OPERATOR_NODES_LIST, new JsonObject()).containsKey("nodes"));
    }
  }

  @Test
  void framesOfTheWrongShapeCloseTheConnectionWithOneLine() throws Exception {
    int port = controller.controlPlane().options().bridgePort();
    String[] frames = {"not json", "[1,2]", "{\"type\":5,\"address\":\"x\"}", "{\"type\":\"send\",\"address\":{}}",
        "{\"type\":\"send\",\"address\":\"zlayer.operator.nodes.list\",\"headers\":{\"a\":[1]}}",
        "{\"type\":\"send\",\"address\":\"zlayer.operator.nodes.list\",\"body\":[1]}", "{\"a\":" + "[".repeat(5000)};
    for (String text : frames) {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        socket.setSoTimeout(10_000);
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        DataOutputStream out = new DataOutputStream(socket.getOutputStream());
        out.writeInt(bytes.length);
        out.write(bytes);
        out.flush();
        DataInputStream in = new DataInputStream(socket.getInputStream());
        byte[] frame = new byte[in.readInt()];
        in.readFully(frame);
        JsonObject err = new JsonObject(new String(frame, StandardCharsets.UTF_8));
        assertEquals("err", err.getString("type"), text);
        assertTrue(err.getString("message").startsWith("bad_frame"), text + " -> " + err.encode());
        assertThrows(EOFException.class, in::readInt, "the connection is closed");
      }
    }
    System.out.printf("abuse bridge-shapes: %d frames of the wrong shape refused, connection closed, %s%n", frames.length,
        lag.figure());
    assertTrue(lag.withinBound(), lag.figure());
  }

  @Test
  void operatorBodiesOfTheWrongTypeOrRangeAreRefused() throws Exception {
    int port = controller.controlPlane().options().bridgePort();
    long revision = await(controller.controlPlane().store().revision());
    Map<JsonObject, String> cases = new java.util.LinkedHashMap<>();
    String assign = Addresses.OPERATOR_ASSIGN;
    cases.put(new JsonObject().put("a", assign).put("b", new JsonObject().put("node_id", 1).put("service", new JsonObject())
        .put("command", "x").put("indices", new JsonArray().add(0))), "service must be a string, got an object");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_TOKEN_CREATE).put("b", new JsonObject().put("uses", 4294967297L)),
        "uses is out of range");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_TOKEN_CREATE).put("b", new JsonObject().put("ttl_secs", -1)),
        "ttl_secs");
    cases.put(new JsonObject().put("a", assign).put("b", new JsonObject().put("node_id", new java.math.BigInteger("18446744073709551618"))
        .put("service", "s").put("command", "x").put("indices", new JsonArray().add(0))), "node_id is out of range");
    cases.put(new JsonObject().put("a", assign).put("b", new JsonObject().put("node_id", 1).put("service", "s")
        .put("command", "x").put("indices", new JsonArray().add(4294967297L))), "indices[0] is out of range");
    cases.put(new JsonObject().put("a", assign).put("b", new JsonObject().put("node_id", 1).put("service", "s")
        .put("command", "x").put("indices", new JsonArray().add(0)).put("env", new JsonObject().put("K", 5))),
        "env.K must be a string");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_DRAIN).put("b", new JsonObject().put("node_id", 1.5)), "node_id must be");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_PUSH_CONFIG).put("b", new JsonObject().put("node_id", 1)
        .put("version", "7").put("yaml", "a: b")), "version must be");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_REVOKE).put("b", new JsonObject().put("node_id", 1).put("nodeid", 2)),
        "unknown field 'nodeid'");
    cases.put(new JsonObject().put("a", Addresses.OPERATOR_SHUTDOWN).put("b", new JsonObject().put("node_id", 1)
        .put("reason", new JsonArray())), "reason must be a string, got an array");
    try (OperatorBridge bridge = new OperatorBridge("127.0.0.1", port, controller.controlPlane().adminToken())) {
      for (var c : cases.entrySet()) {
        OperatorBridge.RefusedException refused = assertThrows(OperatorBridge.RefusedException.class,
            () -> bridge.request(c.getKey().getString("a"), c.getKey().getJsonObject("b")), c.getKey().encode());
        assertTrue(refused.getMessage().contains(c.getValue()), c.getKey().encode() + " -> " + refused.getMessage());
      }
    }
    System.out.printf("abuse bridge-bodies: %d wrong operator bodies refused with a message naming the field, %s%n",
        cases.size(), lag.figure());
    assertTrue(lag.withinBound(), lag.figure());
    assertEquals(revision, await(controller.controlPlane().store().revision()));
  }

  private static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    System.gc();
    return rt.totalMemory() - rt.freeMemory();
  }
}
