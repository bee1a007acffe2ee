package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14 item 7: idle TLS peers, HTTP/1.1 slowloris and trickled bodies are closed within the
 * configured timeouts, while a worker's quiet watch stream keeps its connection.
 */
@ExtendWith(VertxExtension.class)
class IdlePeersTest {
  private static final long IDLE_MS = 1_000;
  @TempDir
  Path dir;
  private ControllerNode controller;
  private NetClient net;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
        .put("connection_idle_timeout", IDLE_MS + "ms").put("http_request_timeout", "1s")));
    net = vertx.createNetClient(new NetClientOptions().setSsl(true).setTrustAll(true).setHostnameVerificationAlgorithm(""));
  }

  @AfterEach
  void stop() throws Exception {
    await(net.close());
    await(controller.stop());
  }

  /** Connects over TLS, sends {@code bytes}, and completes with the ms until the controller closed it. */
  private Future<Long> closedAfter(String bytes) {
    long t0 = System.nanoTime();
    return net.connect(controller.port(), "127.0.0.1").compose(socket -> {
      Promise<Long> closed = Promise.promise();
      socket.closeHandler(v -> closed.tryComplete((System.nanoTime() - t0) / 1_000_000));
      socket.handler(b -> { });
      if (!bytes.isEmpty()) {
        socket.write(bytes);
      }
      return closed.future();
    });
  }

  @Test
  void idleAndSlowPeersAreClosedWithinTheTimeout() throws Exception {
    Duration bound = Duration.ofMillis(IDLE_MS * 4);
    long silent = await(closedAfter(""), bound);
    long slowloris = await(closedAfter("POST /worker/poll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: "), bound);
    long trickle = await(closedAfter("POST /worker/poll HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + "content-length: 100\r\n\r\n{\"node_id\":"), bound);
    // A unary gRPC call that never finishes its message is reset: its buffered bytes are freed.
    GrpcWire wire = new GrpcWire(controller.controlPlane().vertx(), controller);
    long t0 = System.nanoTime();
    GrpcWire.Answer stalled = await(wire.callWithoutEnd(GrpcWire.REGISTER, GrpcWire.frame(0, 1000, new byte[10])), bound);
    long grpcStall = (System.nanoTime() - t0) / 1_000_000;
    await(wire.close());
    assertTrue(stalled.reset(), "stalled unary call: " + stalled);
    System.out.printf("abuse idle-peers: timeouts %d ms; closed a silent TLS peer after %d ms, an HTTP/1.1 slowloris"
        + " after %d ms, a trickled body after %d ms; reset a stalled unary gRPC call after %d ms%n",
        IDLE_MS, silent, slowloris, trickle, grpcStall);
    assertTrue(silent >= IDLE_MS, "not before the timeout: " + silent);
  }

  @Test
  void aWorkersQuietWatchStreamKeepsItsConnection(Vertx vertx) throws Exception {
    Identity identity = RawWorker.register(vertx, controller);
    ClusterControlPlaneGrpcClient stub = TestCluster.stub(vertx, controller, identity);
    Promise<AssignmentEvent> first = Promise.promise();
    Promise<Void> ended = Promise.promise();
    var stream = await(stub.watchAssignments(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId()).build()));
    stream.handler(first::tryComplete);
    stream.exceptionHandler(ended::tryFail);
    stream.endHandler(ended::tryComplete);
    // Three idle timeouts with nothing on the stream; then an assignment must still arrive on it.
    await(TestCluster.delay(vertx, IDLE_MS * 3));
    assertFalse(ended.future().isComplete(), "the watch stream was closed: " + ended.future().cause());
    await(controller.controlPlane().assignments().append(identity.nodeId(),
        Events.set("svc", new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
            new JsonObject().put("command", "true"))));
    assertEquals("svc", await(first.future()).getSet().getService());
  }
}
