package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.cluster.ClusterRefusal;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Three controllers on one etcd: one cluster, one CA, one leader, and any controller is a door to it. */
@ExtendWith(VertxExtension.class)
class SeveralControllersTest {
  @TempDir
  Path dir;
  EtcdServer etcd;
  final List<ControllerNode> controllers = new ArrayList<>();

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    etcd = new EtcdServer().start();
    for (int i = 1; i <= 3; i++) {
      if (i > 1) {
        shareCa(1, i);
      }
      controllers.add(TestCluster.startController(vertx, options(i, i)));
    }
  }

  @AfterEach
  void stop() throws Exception {
    for (ControllerNode c : controllers) {
      await(c.stop());
    }
    etcd.close();
  }

  private io.zlayer.worker.config.ControllerOptions options(int n, long nodeId) throws Exception {
    return TestCluster.controllerOptions(dir, new JsonObject().put("node_id", nodeId)
        .put("data_dir", dir.resolve("c" + n).toString())
        .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint()))));
  }

  /** Copies controller {@code from}'s CA into controller {@code to}'s worker_ca_dir, as an operator would. */
  private void shareCa(int from, int to) throws Exception {
    Path src = dir.resolve("c" + from).resolve("ca");
    Path dst = Files.createDirectories(dir.resolve("c" + to).resolve("ca"));
    Files.copy(src.resolve(WorkerCa.CA_CERT_FILE), dst.resolve(WorkerCa.CA_CERT_FILE));
    Files.copy(src.resolve(WorkerCa.CA_KEY_FILE), dst.resolve(WorkerCa.CA_KEY_FILE));
  }

  private static Throwable startFailure(Vertx vertx, io.zlayer.worker.config.ControllerOptions options) {
    Exception e = assertThrows(Exception.class, () -> TestCluster.startController(vertx, options));
    return e instanceof ExecutionException ? e.getCause() : e;
  }

  @Test
  void controllersKnowEachOtherAndOneLeads(Vertx vertx) throws Exception {
    JsonArray listed = await(controllers.get(2).controllers());
    assertEquals(3, listed.size(), listed.encode());
    assertEquals(1, listed.stream().filter(c -> ((JsonObject) c).getBoolean("leader")).count(), listed.encode());
    assertEquals(1L, ((JsonObject) listed.stream().filter(c -> ((JsonObject) c).getBoolean("leader")).findFirst()
        .orElseThrow()).getLong("node_id"), "the first controller leads");
    assertTrue(listed.encode().contains("127.0.0.1:" + controllers.get(1).port()), listed.encode());
    ControllerNode third = controllers.get(2);
    OperatorHttpTest.Reply http = await(OperatorHttpTest.http(vertx, third.operatorPort(),
        io.vertx.core.http.HttpMethod.GET, "/v1/controllers", third.controlPlane().adminToken(), null));
    assertEquals(200, http.status(), http.body());
    assertEquals(3, http.json().getJsonArray("controllers").size(), http.body());
    String ca = controllers.get(0).controlPlane().ca().caSha256();
    for (ControllerNode c : controllers) {
      assertEquals(ca, c.controlPlane().ca().caSha256(), "one CA for the cluster");
      assertEquals(controllers.get(0).controlPlane().clusterId(), c.controlPlane().clusterId());
    }

    shareCa(1, 4);
    Throwable taken = startFailure(vertx, options(4, 2));
    assertTrue(taken instanceof ClusterRefusal && taken.getMessage().contains("node_id 2 is held by a live controller"),
        String.valueOf(taken));
    Throwable noCa = startFailure(vertx, options(5, 5));
    assertTrue(noCa instanceof ClusterRefusal && noCa.getMessage().contains("copy ca.pem and ca-key.pem"), String.valueOf(noCa));
    assertTrue(!Files.exists(dir.resolve("c5").resolve("ca").resolve(WorkerCa.CA_KEY_FILE)), "no second CA was created");
    await(vertx.executeBlocking(() -> WorkerCa.loadOrCreate(dir.resolve("c6").resolve("ca"),
        controllers.get(0).controlPlane().clusterId())));
    Throwable otherCa = startFailure(vertx, options(6, 6));
    assertTrue(otherCa instanceof ClusterRefusal && otherCa.getMessage().contains(ca), String.valueOf(otherCa));

    // The leader resigns as it stops: another leads at once.
    long t0 = System.nanoTime();
    await(controllers.remove(0).stop());
    JsonArray after = await(controllers.get(0).controllers());
    while (after.stream().noneMatch(c -> ((JsonObject) c).getBoolean("leader"))) {
      await(TestCluster.delay(vertx, 20));
      after = await(controllers.get(0).controllers());
    }
    System.out.printf("several-controllers: leader handover after a graceful stop %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    assertEquals(2, after.size(), after.encode());
  }

  @Test
  void aSingleUseTokenIsRedeemedOnceAcrossControllers(Vertx vertx) throws Exception {
    String token = TestCluster.mint(controllers.get(0)).encode();
    List<ControllerChannel> channels = controllers.stream().map(c -> TestCluster.channel(vertx, c, null)).toList();
    try {
      List<Future<RegisterResponse>> calls = channels.stream().map(ch -> ch.unary(ClusterControlPlaneGrpcClient.Register,
          RegisterRequest.newBuilder().setBootstrapToken(token).setProfile(RegisterTest.profile())
              .setCsrDer(ByteString.copyFrom(RegisterTest.goodCsr())).build())).toList();
      await(Future.join(calls).otherwiseEmpty());
      assertEquals(1, calls.stream().filter(Future::succeeded).count(), "exactly one Register wins");
    } finally {
      channels.forEach(ControllerChannel::close);
    }
  }

  /**
   * A registration storm on three controllers at once: each proposes ids in its own residue class,
   * so none runs out of attempts on node-id collisions, and every id is unique.
   */
  @Test
  void aRegistrationStormOnThreeControllersGivesUniqueIdsWithoutCollisionFailures(Vertx vertx) throws Exception {
    int perController = 60;
    List<ControllerChannel> channels = controllers.stream().map(c -> TestCluster.channel(vertx, c, null)).toList();
    try {
      byte[] csr = RegisterTest.goodCsr();
      List<Future<RegisterResponse>> calls = new ArrayList<>();
      List<Integer> door = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        String token = await(controllers.get(c).controlPlane().tokens().mint(java.time.Duration.ofMinutes(10),
            perController)).encode();
        for (int i = 0; i < perController; i++) {
          calls.add(channels.get(c).unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
              .setBootstrapToken(token).setProfile(RegisterTest.profile()).setCsrDer(ByteString.copyFrom(csr)).build()));
          door.add(c);
        }
      }
      // Interleaved as the calls were sent: controller 1's, then 2's, then 3's, all in flight at once.
      await(Future.join(calls).otherwiseEmpty(), java.time.Duration.ofSeconds(120));
      List<String> failures = calls.stream().filter(Future::failed).map(f -> f.cause().getMessage()).toList();
      assertEquals(List.of(), failures, "no registration fails");
      java.util.Set<Long> ids = new java.util.HashSet<>();
      java.util.Map<Integer, java.util.Set<Long>> residues = new java.util.HashMap<>();
      for (int i = 0; i < calls.size(); i++) {
        long id = calls.get(i).result().getNodeId();
        assertTrue(ids.add(id), "node id " + id + " given twice");
        residues.computeIfAbsent(door.get(i), k -> new java.util.HashSet<>()).add(id % 3);
      }
      assertEquals(3 * perController, ids.size());
      long collisions = controllers.stream().mapToLong(c -> c.controlPlane().registrar().collisions()).sum();
      System.out.printf("several-controllers: registration storm %d workers on 3 controllers, highest id %d, residues %s, "
          + "%d commit collisions%n", ids.size(), ids.stream().mapToLong(Long::longValue).max().orElse(0), residues, collisions);
      assertEquals(0, collisions, "each controller proposes ids of its own class: no node-id collision");
    } finally {
      channels.forEach(ControllerChannel::close);
    }
  }

  @Test
  void anAssignmentThroughOneControllerReachesAWorkerOnAnotherAndARevocationCutsIt(Vertx vertx) throws Exception {
    ControllerNode a = controllers.get(0);
    ControllerNode b = controllers.get(1);
    Identity identity = RawWorker.register(vertx, b);
    Identity other = RawWorker.register(vertx, a);
    assertTrue(other.nodeId() != identity.nodeId(), "node ids do not collide across controllers");
    ClusterControlPlaneGrpcClient stub = TestCluster.stub(vertx, b, identity);
    Promise<AssignmentEvent> first = Promise.promise();
    Promise<Long> ended = Promise.promise();
    var stream = await(stub.watchAssignments(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId()).build()));
    stream.handler(first::tryComplete);
    stream.exceptionHandler(e -> ended.tryComplete(System.nanoTime()));
    stream.endHandler(v -> ended.tryComplete(System.nanoTime()));

    // Controller A learns of the node registered on B through etcd before it can assign to it.
    while (a.controlPlane().nodes().get(identity.nodeId()).isEmpty()) {
      await(TestCluster.delay(vertx, 10));
    }
    await(a.controlPlane().orders().assign(identity.nodeId(), "svc",
        new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
        new JsonObject().put("command", "true")));
    assertEquals("svc", await(first.future()).getSet().getService());

    long t0 = System.nanoTime();
    await(a.controlPlane().nodeService().revoke(identity.nodeId()));
    long cutMs = (await(ended.future()) - t0) / 1_000_000;
    System.out.printf("several-controllers: revoke through A cut the stream on B after %d ms%n", cutMs);
    assertTrue(cutMs < 1000, "cut after " + cutMs + " ms");
  }
}
