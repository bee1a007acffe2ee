package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.TlsSessions;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.TlsEngines;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS session resumption on the worker endpoint: a worker that kept its session reconnects to a
 * restarted controller (a new TLS context, the same ticket keys from the CA) and resumes; the
 * resumed session still proves only its own node, and a revoked node's resumed session is refused.
 */
@ExtendWith(VertxExtension.class)
class TlsResumptionTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private final List<ControllerChannel> channels = new ArrayList<>();

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    Assumptions.assumeTrue(TlsEngines.describe(TlsEngines.preferred()).equals("OpenSSL"),
        "resumption across controllers needs the OpenSSL engine");
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  @AfterEach
  void stop() throws Exception {
    for (ControllerChannel c : channels) {
      await(c.close());
    }
    if (controller != null) {
      await(controller.stop());
    }
  }

  private ControllerChannel channel(Vertx vertx, Identity identity, TlsSessions sessions) {
    ControllerChannel c = ControllerChannel.open(vertx, new HostPort("127.0.0.1", controller.port()),
        controller.controlPlane().ca().certificatePem(), identity, sessions);
    channels.add(c);
    return c;
  }

  private Future<Void> closeAll() {
    List<Future<Void>> closing = channels.stream().map(ControllerChannel::close).toList();
    channels.clear();
    return Future.join(closing).mapEmpty();
  }

  private void restart(Vertx vertx) throws Exception {
    await(closeAll());
    await(controller.stop());
    // Another port on purpose: the session is filed for the cluster's controllers, not for an address.
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  /** Reports once as {@code nodeId}; completes with the ack, or fails with the refusal's status. */
  private static Future<StatusAck> report(ControllerChannel c, long nodeId) {
    return c.grpc().request(c.address(), ClusterControlPlaneGrpcClient.ReportStatus).compose(request -> {
      Future<StatusAck> ack = request.response().compose(response -> {
        Promise<StatusAck> first = Promise.promise();
        response.handler(first::tryComplete);
        response.endHandler(v -> first.tryFail(new StatusFailure(response.status(), response.statusMessage())));
        response.exceptionHandler(first::tryFail);
        return first.future();
      });
      request.write(StatusReport.newBuilder().setNodeId(nodeId).setFullSnapshot(true).build());
      return ack.onComplete(ar -> request.cancel());
    });
  }

  private static Future<GrpcStatus> watchStatus(ControllerChannel c, long nodeId) {
    return c.grpc().request(c.address(), ClusterControlPlaneGrpcClient.WatchAssignments)
        .compose(req -> req.send(WatchAssignmentsRequest.newBuilder().setNodeId(nodeId).build()))
        .compose(response -> response.end().otherwiseEmpty().map(v -> response.status()));
  }

  static final class StatusFailure extends RuntimeException {
    final GrpcStatus status;

    StatusFailure(GrpcStatus status, String message) {
      super(status + ": " + message);
      this.status = status;
    }
  }

  private static GrpcStatus refused(Future<StatusAck> call) {
    try {
      await(call);
    } catch (StatusFailure e) {
      return e.status;
    } catch (Exception e) {
      throw new AssertionError("expected a gRPC status, got " + e, e);
    }
    throw new AssertionError("the call was accepted");
  }

  @Test
  void aReconnectAfterARestartResumesAndTheResumedSessionIsStillOnlyItsOwnNode(Vertx vertx) throws Exception {
    Identity one = RawWorker.register(vertx, controller);
    Identity two = RawWorker.register(vertx, controller);
    TlsSessions sessions = new TlsSessions();
    await(report(channel(vertx, one, sessions), one.nodeId()));
    assertEquals(0, controller.controlPlane().tickets().resumed(), "the first connection is a full handshake");

    restart(vertx);
    assertEquals(0, controller.controlPlane().tickets().resumed());
    ControllerChannel resumed = channel(vertx, one, sessions);
    assertTrue(await(report(resumed, one.nodeId())).getNextTtlSecs() > 0);
    assertEquals(1, controller.controlPlane().tickets().resumed(), "the reconnect resumed the session");

    // The resumed session carries node one's certificate: it cannot act for node two.
    assertEquals(GrpcStatus.PERMISSION_DENIED, refused(report(resumed, two.nodeId())));
    assertEquals(GrpcStatus.PERMISSION_DENIED, await(watchStatus(resumed, two.nodeId())));
    ControllerChannel again = channel(vertx, one, sessions);
    assertEquals(GrpcStatus.PERMISSION_DENIED, refused(report(again, two.nodeId())));
    assertEquals(2, controller.controlPlane().tickets().resumed(), "that connection resumed too");
    // And node two, with sessions of its own, is itself.
    assertTrue(await(report(channel(vertx, two, sessions), two.nodeId())).getNextTtlSecs() > 0);
  }

  @Test
  void aRevokedNodesResumedSessionIsRefused(Vertx vertx) throws Exception {
    Identity one = RawWorker.register(vertx, controller);
    TlsSessions sessions = new TlsSessions();
    await(report(channel(vertx, one, sessions), one.nodeId()));
    await(vertx.eventBus().request(Addresses.OPERATOR_REVOKE, new JsonObject().put("node_id", one.nodeId())));
    restart(vertx);
    assertEquals(GrpcStatus.UNAUTHENTICATED, refused(report(channel(vertx, one, sessions), one.nodeId())));
    assertEquals(1, controller.controlPlane().tickets().resumed(), "resumed, and refused by the gate all the same");
  }

  @Test
  void withoutKeptSessionsAReconnectIsAFullHandshake(Vertx vertx) throws Exception {
    Identity one = RawWorker.register(vertx, controller);
    await(report(channel(vertx, one, null), one.nodeId()));
    restart(vertx);
    await(report(channel(vertx, one, null), one.nodeId()));
    await(report(channel(vertx, one, new TlsSessions()), one.nodeId()));
    assertEquals(0, controller.controlPlane().tickets().resumed());
  }
}
