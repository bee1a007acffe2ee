package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14 item 10: a node id is spent only by a registration that succeeds. */
@ExtendWith(VertxExtension.class)
class NodeIdsTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private ControllerChannel channel;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    channel = TestCluster.channel(vertx, controller, null);
  }

  @AfterEach
  void stop() throws Exception {
    await(channel.close());
    await(controller.stop());
  }

  private Future<RegisterResponse> register(String token, byte[] csr) {
    return channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
        .setBootstrapToken(token).setProfile(RegisterTest.profile()).setCsrDer(ByteString.copyFrom(csr)).build());
  }

  @Test
  void refusedRegistrationsBurnNoIds() throws Exception {
    // A bad CSR with a good token is refused; the id it was offered goes to the next node.
    String token = TestCluster.mint(controller).encode();
    Future<RegisterResponse> bad = register(token, new byte[] {1, 2, 3});
    await(bad.otherwise((RegisterResponse) null));
    assertEquals(1, await(register(token, RegisterTest.goodCsr())).getNodeId());
    // Racing registrations on single-use tokens: 5 per token, one of each admitted.
    int tokens = 6;
    List<Future<RegisterResponse>> racing = new ArrayList<>();
    for (int t = 0; t < tokens; t++) {
      String shared = TestCluster.mint(controller).encode();
      for (int i = 0; i < 5; i++) {
        racing.add(register(shared, RegisterTest.goodCsr()));
      }
    }
    await(Future.join(racing).otherwiseEmpty());
    long admitted = racing.stream().filter(Future::succeeded).count();
    long highest = controller.controlPlane().nodes().all().stream().mapToLong(NodeRecord::nodeId).max().orElse(0);
    System.out.printf("abuse node-ids: %d registers on %d single-use tokens admitted %d; highest id %d for %d nodes%n",
        racing.size(), tokens, admitted, highest, controller.controlPlane().nodes().all().size());
    assertEquals(tokens, admitted);
    // Ids offered to the refused racers went back: the next registrations fill every gap.
    int gaps = (int) highest - controller.controlPlane().nodes().all().size();
    for (int i = 0; i < gaps; i++) {
      await(register(TestCluster.mint(controller).encode(), RegisterTest.goodCsr()));
    }
    List<Long> ids = controller.controlPlane().nodes().all().stream().map(NodeRecord::nodeId).sorted().toList();
    assertEquals(java.util.stream.LongStream.rangeClosed(1, highest).boxed().toList(), ids, "no id burned");
  }
}
