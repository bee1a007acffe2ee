package io.zlayer.worker.bench;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.WorkerProfile;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A loop, not a test: registrations per second against an in-process controller over one TLS
 * connection, {@code CONCURRENCY} calls in flight. CSRs and tokens are made before the clock starts.
 * Usage: java -cp ... io.zlayer.worker.bench.RegistrationRate [count] [concurrency]
 */
public final class RegistrationRate {
  public static void main(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    int concurrency = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    Path dir = Files.createTempDirectory("zlayer-bench");
    Vertx vertx = Vertx.vertx();
    int port;
    int bridge;
    try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
      port = a.getLocalPort();
      bridge = b.getLocalPort();
    }
    ControllerNode node = get(ControllerNode.start(vertx, ControllerOptions.fromJson(new JsonObject()
        .put("data_dir", dir.toString()).put("worker_grpc_addr", "127.0.0.1:" + port).put("bridge_port", bridge))));
    List<RegisterRequest> requests = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      requests.add(RegisterRequest.newBuilder()
          .setBootstrapToken(get(node.controlPlane().tokens().mint(Duration.ofHours(1), 1)).encode())
          .setProfile(WorkerProfile.newBuilder().setOs("linux").setArch("x86_64"))
          .setCsrDer(ByteString.copyFrom(WorkerKeys.createCsr(WorkerKeys.generateP256(), "bench")))
          .build());
    }
    ControllerChannel channel = ControllerChannel.open(vertx, new HostPort("127.0.0.1", port),
        node.controlPlane().ca().certificatePem(), null);
    get(channel.unary(ClusterControlPlaneGrpcClient.Register, requests.remove(0))); // warm the connection
    long start = System.nanoTime();
    int[] next = {0};
    List<Future<?>> lanes = new ArrayList<>();
    for (int lane = 0; lane < concurrency; lane++) {
      lanes.add(lane(channel, requests, next));
    }
    get(Future.all(lanes));
    double secs = (System.nanoTime() - start) / 1e9;
    System.out.printf("registrations: %d in %.2f s = %.0f/s (%d in flight, one TLS connection, embedded store)%n",
        requests.size(), secs, requests.size() / secs, concurrency);
    get(channel.close());
    get(node.stop());
    get(vertx.close());
  }

  private static Future<Void> lane(ControllerChannel channel, List<RegisterRequest> requests, int[] next) {
    synchronized (next) {
      if (next[0] >= requests.size()) {
        return Future.succeededFuture();
      }
      RegisterRequest request = requests.get(next[0]++);
      return channel.unary(ClusterControlPlaneGrpcClient.Register, request).compose(r -> lane(channel, requests, next));
    }
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
  }
}
