package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.Rpc;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.controller.core.NodeState;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.DeregisterRequest;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The one mTLS gate: who may call what, revocation cutting streams, and the adaptive TTL in acks. */
@ExtendWith(VertxExtension.class)
class MtlsGateTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private final List<ControllerChannel> channels = new ArrayList<>();

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    // max 1 heartbeat/s and a 1 s floor: the TTL equals the number of live workers.
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
        .put("max_heartbeats_per_second", 1).put("heartbeat_min_ttl", "1s")));
  }

  @AfterEach
  void stop() throws Exception {
    for (ControllerChannel c : channels) {
      await(c.close());
    }
    await(controller.stop());
  }

  private ControllerChannel channel(Vertx vertx, Identity identity) {
    ControllerChannel c = TestCluster.channel(vertx, controller, identity);
    channels.add(c);
    return c;
  }

  /** Opens WatchAssignments and returns the response (status visible when refused). */
  private Future<GrpcClientResponse<WatchAssignmentsRequest, AssignmentEvent>> watch(ControllerChannel c, long nodeId) {
    return c.grpc().request(c.address(), ClusterControlPlaneGrpcClient.WatchAssignments)
        .compose(req -> req.send(WatchAssignmentsRequest.newBuilder().setNodeId(nodeId).build()));
  }

  private GrpcStatus refusal(ControllerChannel c, long nodeId, String expectedText) throws Exception {
    var response = await(watch(c, nodeId));
    await(response.end().otherwiseEmpty());
    assertTrue(response.statusMessage() != null && response.statusMessage().contains(expectedText),
        "message: " + response.statusMessage());
    return response.status();
  }

  @Test
  void callsWithoutCertificateOrForAnotherNodeAreRefused(Vertx vertx) throws Exception {
    Identity one = RawWorker.register(vertx, controller);
    Identity two = RawWorker.register(vertx, controller);
    assertEquals(GrpcStatus.UNAUTHENTICATED, refusal(channel(vertx, null), one.nodeId(), "client certificate is required"));
    assertEquals(GrpcStatus.PERMISSION_DENIED, refusal(channel(vertx, one), two.nodeId(), "may not act as node " + two.nodeId()));
    Rpc.RpcException e = org.junit.jupiter.api.Assertions.assertThrows(Rpc.RpcException.class, () -> await(
        channel(vertx, null).unary(ClusterControlPlaneGrpcClient.Deregister, DeregisterRequest.newBuilder().setNodeId(one.nodeId()).build())));
    assertEquals(GrpcStatus.UNAUTHENTICATED, e.status());
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(one.nodeId()).orElseThrow().state());
  }

  @Test
  void revokeQuarantinesCutsOpenStreamsWithinOneSecondAndRefusesLaterCalls(Vertx vertx) throws Exception {
    Identity worker = RawWorker.register(vertx, controller);
    Future<Long> ended = watchUntilCut(vertx, worker);

    long t0 = System.nanoTime();
    JsonObject reply = await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_REVOKE,
        new JsonObject().put("node_id", worker.nodeId()))).body();
    assertEquals("quarantined", reply.getString("state"));
    long cutMs = (await(ended.timeout(1, TimeUnit.SECONDS)) - t0) / 1_000_000;
    System.out.println("revoke -> stream cut: " + cutMs + " ms");

    assertEquals(GrpcStatus.UNAUTHENTICATED, refusal(channel(vertx, worker), worker.nodeId(), "revoked"));
    assertEquals(NodeState.QUARANTINED, controller.controlPlane().nodes().get(worker.nodeId()).orElseThrow().state());

    // A revoked node can then be removed for good: deregistered, then collected.
    assertEquals("deregistered", await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_DEREGISTER,
        new JsonObject().put("node_id", worker.nodeId()))).body().getString("state"));
    assertEquals(List.of(worker.nodeId()), await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_GC,
        new JsonObject())).body().getJsonArray("node_ids").getList());
    assertTrue(controller.controlPlane().nodes().get(worker.nodeId()).isEmpty());
  }

  @Test
  void operatorRequestsTheNodeCannotTakeAreRefusedWithACodeAndAMessage(Vertx vertx) throws Exception {
    Identity worker = RawWorker.register(vertx, controller);
    var unassign = org.junit.jupiter.api.Assertions.assertThrows(io.vertx.core.eventbus.ReplyException.class, () ->
        await(vertx.eventBus().request(Addresses.OPERATOR_UNASSIGN,
            new JsonObject().put("node_id", worker.nodeId()).put("service", "nope"))));
    assertEquals(404, unassign.failureCode());
    assertTrue(unassign.getMessage().contains("has no service nope"), unassign.getMessage());
    var undrain = org.junit.jupiter.api.Assertions.assertThrows(io.vertx.core.eventbus.ReplyException.class, () ->
        await(vertx.eventBus().request(Addresses.OPERATOR_UNDRAIN, new JsonObject().put("node_id", worker.nodeId()))));
    assertEquals(409, undrain.failureCode());
    assertTrue(undrain.getMessage().contains("not draining"), undrain.getMessage());
  }

  @Test
  void operatorDeregisterRemovesTheNodeCutsItsStreamsAndCannotBeRepeated(Vertx vertx) throws Exception {
    Identity worker = RawWorker.register(vertx, controller);
    Future<Long> ended = watchUntilCut(vertx, worker);

    JsonObject reply = await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_DEREGISTER,
        new JsonObject().put("node_id", worker.nodeId()).put("reason", "decommissioned"))).body();
    assertEquals("deregistered", reply.getString("state"));
    await(ended.timeout(1, TimeUnit.SECONDS));
    NodeRecord node = controller.controlPlane().nodes().get(worker.nodeId()).orElseThrow();
    assertEquals(NodeState.DEREGISTERED, node.state());
    assertEquals("deregistered: decommissioned", node.stateCause());
    assertTrue(controller.controlPlane().leases().get(worker.nodeId()).isEmpty(), "lease dropped");

    var again = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> await(vertx.eventBus()
        .<JsonObject>request(Addresses.OPERATOR_DEREGISTER, new JsonObject().put("node_id", worker.nodeId()))));
    assertTrue(again.getMessage().contains("already deregistered"), again.getMessage());
  }

  @Test
  void operatorGcForgetsDeregisteredNodesAndNeverReusesTheirIds(Vertx vertx) throws Exception {
    Identity stays = RawWorker.register(vertx, controller);
    Identity leaves = RawWorker.register(vertx, controller);
    assertTrue(leaves.nodeId() > stays.nodeId());
    await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_DEREGISTER,
        new JsonObject().put("node_id", leaves.nodeId())));

    JsonObject gc = await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_GC, new JsonObject())).body();
    assertEquals(1, gc.getInteger("collected"));
    assertEquals(List.of(leaves.nodeId()), gc.getJsonArray("node_ids").getList());
    assertTrue(controller.controlPlane().nodes().get(leaves.nodeId()).isEmpty(), "forgotten in memory");
    assertTrue(await(controller.controlPlane().store().get(NodeRecord.key(leaves.nodeId()))).isEmpty(),
        "forgotten in the store");
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(stays.nodeId()).orElseThrow().state());
    assertEquals(GrpcStatus.UNAUTHENTICATED, refusal(channel(vertx, leaves), leaves.nodeId(), "deregistered and collected"));
    assertEquals(0, await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_GC, new JsonObject()))
        .body().getInteger("collected"));

    // A restart on the same store: the collected (highest) id is not handed out again.
    for (ControllerChannel c : channels) {
      await(c.close());
    }
    channels.clear();
    await(controller.stop());
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    Identity next = RawWorker.register(vertx, controller);
    assertTrue(next.nodeId() > leaves.nodeId(), "new id " + next.nodeId() + " after collected " + leaves.nodeId());
    // Not even a worker asking for the collected id gets it (its assignment log is kept).
    ControllerChannel plain = TestCluster.channel(vertx, controller, null);
    channels.add(plain);
    long asked = await(plain.unary(io.zlayer.worker.proto.ClusterControlPlaneGrpcClient.Register,
        io.zlayer.worker.proto.RegisterRequest.newBuilder()
            .setBootstrapToken(TestCluster.mint(controller).encode()).setDesiredNodeId(leaves.nodeId())
            .setProfile(io.zlayer.worker.proto.WorkerProfile.newBuilder().setOs("linux").setArch("x86_64"))
            .setCsrDer(com.google.protobuf.ByteString.copyFrom(io.zlayer.worker.pki.WorkerKeys.createCsr(
                io.zlayer.worker.pki.WorkerKeys.generateP256(), "asks")))
            .build())).getNodeId();
    assertTrue(asked > next.nodeId(), "asked for collected id " + leaves.nodeId() + ", got " + asked);
  }

  @Test
  void deregisteredNodesAreCollectedOnceNodeGcThresholdHasPassed(Vertx vertx) throws Exception {
    await(controller.stop());
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
        .put("node_gc_threshold", "1s")));
    Identity stays = RawWorker.register(vertx, controller);
    Identity leaves = RawWorker.register(vertx, controller);
    await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_DEREGISTER,
        new JsonObject().put("node_id", leaves.nodeId())));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (controller.controlPlane().nodes().get(leaves.nodeId()).isPresent() && System.nanoTime() < deadline) {
      await(TestCluster.delay(vertx, 100)); // bounded wait for the collector's tick
    }
    assertTrue(controller.controlPlane().nodes().get(leaves.nodeId()).isEmpty(), "collected within 10 s");
    assertTrue(await(controller.controlPlane().store().get(NodeRecord.key(leaves.nodeId()))).isEmpty());
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(stays.nodeId()).orElseThrow().state(),
        "a live node is never collected");
  }

  /** Opens the worker's assignment watch; completes with the time (nanos) the controller ends it. */
  private Future<Long> watchUntilCut(Vertx vertx, Identity worker) throws Exception {
    var response = await(watch(channel(vertx, worker), worker.nodeId()));
    Promise<Long> ended = Promise.promise();
    response.exceptionHandler(e -> ended.tryComplete(System.nanoTime()));
    response.endHandler(v -> ended.tryComplete(System.nanoTime()));
    return ended.future();
  }

  @Test
  void ackTtlGrowsWithTheNumberOfWorkers(Vertx vertx) throws Exception {
    List<Integer> ttls = new ArrayList<>();
    for (int n = 1; n <= 4; n++) {
      Identity worker = RawWorker.register(vertx, controller);
      ttls.add(firstAck(channel(vertx, worker), worker.nodeId()).getNextTtlSecs());
    }
    assertEquals(List.of(1, 2, 3, 4), ttls, "ttl = clamp(ceil(N / 1), 1, 600)");
  }

  private StatusAck firstAck(ControllerChannel c, long nodeId) throws Exception {
    var request = await(c.grpc().request(c.address(), ClusterControlPlaneGrpcClient.ReportStatus));
    // The handler is set on the event loop as the response arrives, so the first ack cannot slip by.
    Future<StatusAck> ack = request.response().compose(response -> {
      Promise<StatusAck> first = Promise.promise();
      response.handler(first::tryComplete);
      return first.future();
    });
    request.write(StatusReport.newBuilder().setNodeId(nodeId).setFullSnapshot(true).build());
    StatusAck first = await(ack);
    request.cancel();
    return first;
  }

  @Test
  void aCertificateFromAnotherClustersCaIsRefusedInTheHandshake(Vertx vertx) throws Exception {
    ControllerNode other = TestCluster.startController(vertx, TestCluster.controllerOptions(dir.resolve("other"), new JsonObject()));
    try {
      Identity foreign = RawWorker.register(vertx, other);
      var attempt = watch(channel(vertx, foreign), foreign.nodeId())
          .compose(response -> response.end().map(v -> response.status()));
      // The TLS layer refuses a certificate this CA did not sign: the connection closes in the
      // handshake, at once. A status (the call got through) or a timeout (it hung) both fail here.
      Exception refused = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
          () -> await(attempt, java.time.Duration.ofSeconds(5)), "a foreign certificate must not get a working call");
      org.junit.jupiter.api.Assertions.assertFalse(refused instanceof java.util.concurrent.TimeoutException,
          "refused at once, not after a timeout");
      assertTrue(refused instanceof javax.net.ssl.SSLException
              || String.valueOf(refused.getMessage()).contains("Connection was closed"),
          "refused by the TLS handshake: " + refused);
    } finally {
      await(other.stop());
    }
  }
}
