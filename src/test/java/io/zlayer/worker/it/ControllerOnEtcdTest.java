package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Rpc;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.store.etcd.EtcdServer;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.EtcdStoreOptions;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A controller with {@code store: {type: etcd}}: its state is in etcd, and an etcd outage is UNAVAILABLE. */
@ExtendWith(VertxExtension.class)
class ControllerOnEtcdTest {
  @TempDir
  Path dir;
  EtcdServer etcd;
  ControllerNode controller;
  ControllerChannel channel;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    etcd = new EtcdServer().start();
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject().put("store",
        new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint())).put("prefix", "/it/"))));
    channel = TestCluster.channel(vertx, controller, null);
  }

  @AfterEach
  void stop() throws Exception {
    await(channel.close());
    await(controller.stop());
    etcd.close();
  }

  private Future<RegisterResponse> register(String token) {
    return channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder().setBootstrapToken(token)
        .setProfile(RegisterTest.profile()).setCsrDer(ByteString.copyFrom(RegisterTest.goodCsr())).build());
  }

  @Test
  void stateLivesInEtcdAndAnOutageIsUnavailable(Vertx vertx) throws Exception {
    String token = TestCluster.mint(controller).encode();
    List<Future<RegisterResponse>> calls = List.of(register(token), register(token));
    await(Future.join(calls).otherwiseEmpty());
    assertEquals(1, calls.stream().filter(Future::succeeded).count(), "a single-use token is redeemed once");

    EtcdStore direct = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint())).withPrefix("/it/")));
    try {
      assertEquals(1, await(direct.range("nodes/")).size(), "the node record is in etcd under the prefix");
      assertTrue(await(direct.get("meta/cluster_id")).orElseThrow().value().contains(controller.controlPlane().clusterId()));
    } finally {
      await(direct.close());
    }

    String second = TestCluster.mint(controller).encode();
    etcd.kill();
    Rpc.RpcException refused = assertThrows(Rpc.RpcException.class, () -> await(register(second)));
    assertEquals(GrpcStatus.UNAVAILABLE, refused.status(), refused.getMessage());
    assertTrue(refused.getMessage().contains("store is unreachable"), refused.getMessage());

    etcd.start();
    await(register(second)); // the same token works once etcd is back: nothing was half-done
  }
}
