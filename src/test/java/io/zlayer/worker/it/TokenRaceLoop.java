package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Not a test: one single-use token raced on three controllers sharing one etcd, N times (default
 * 1,000); prints how many races had exactly one winner.
 * Run: java -cp target/test-classes:target/classes:$(cat cp.txt) io.zlayer.worker.it.TokenRaceLoop [rounds]
 */
public final class TokenRaceLoop {
  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    Path dir = Files.createTempDirectory("token-race");
    Vertx vertx = Vertx.vertx();
    List<ControllerNode> controllers = new ArrayList<>();
    List<ControllerChannel> channels = new ArrayList<>();
    try (EtcdServer etcd = new EtcdServer().start()) {
      for (int i = 1; i <= 3; i++) {
        Path ca = Files.createDirectories(dir.resolve("c" + i).resolve("ca"));
        if (i > 1) {
          for (String f : new String[] {WorkerCa.CA_CERT_FILE, WorkerCa.CA_KEY_FILE}) {
            Files.copy(dir.resolve("c1").resolve("ca").resolve(f), ca.resolve(f));
          }
        }
        controllers.add(TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
            .put("node_id", i).put("data_dir", dir.resolve("c" + i).toString())
            .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint()))))));
        channels.add(TestCluster.channel(vertx, controllers.get(i - 1), null));
      }
      int[] winners = new int[4];
      long t0 = System.nanoTime();
      for (int r = 0; r < rounds; r++) {
        String token = TestCluster.mint(controllers.get(r % 3)).encode();
        List<Future<RegisterResponse>> calls = channels.stream().map(ch -> ch.unary(ClusterControlPlaneGrpcClient.Register,
            RegisterRequest.newBuilder().setBootstrapToken(token).setProfile(RegisterTest.profile())
                .setCsrDer(ByteString.copyFrom(RegisterTest.goodCsr())).build())).toList();
        await(Future.join(calls).otherwiseEmpty());
        winners[(int) calls.stream().filter(Future::succeeded).count()]++;
      }
      System.out.printf("token race: %d rounds on 3 controllers in %.1f s: exactly one winner %d, none %d, two %d, three %d%n",
          rounds, (System.nanoTime() - t0) / 1e9, winners[1], winners[0], winners[2], winners[3]);
    } finally {
      for (ControllerChannel ch : channels) {
        ch.close();
      }
      for (ControllerNode c : controllers) {
        await(c.stop());
      }
      vertx.close();
    }
  }
}
