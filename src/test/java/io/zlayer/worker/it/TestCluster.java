package io.zlayer.worker.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControlPlane;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.SecureFiles;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Starts real controllers on loopback ports in a temp dir, and helps tests talk to them. */
public final class TestCluster {
  public static final Duration WAIT = Duration.ofSeconds(20);

  private TestCluster() {
  }

  public static <T> T await(Future<T> future) throws Exception {
    return await(future, WAIT);
  }

  public static <T> T await(Future<T> future, Duration timeout) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof Exception ex ? ex : e;
    }
  }

  /** Completes after {@code ms}: the step of a bounded wait for a condition that has no event. */
  public static Future<Void> delay(Vertx vertx, long ms) {
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    vertx.setTimer(ms, id -> done.complete());
    return done.future();
  }

  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }

  public static ControllerOptions controllerOptions(Path dir, JsonObject overrides) throws IOException {
    // Both ports picked while both sockets are open: two freePort() calls in a row once returned
    // the same port, and the worker's TLS hello then reached the event-bus bridge (CI, session 8).
    int worker;
    int bridge;
    try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
      worker = a.getLocalPort();
      bridge = b.getLocalPort();
    }
    JsonObject json = new JsonObject()
        .put("data_dir", dir.resolve("controller").toString())
        .put("worker_grpc_addr", "127.0.0.1:" + worker)
        .put("operator_http_addr", "127.0.0.1:0")
        .put("bridge_port", bridge);
    return ControllerOptions.fromJson(json.mergeIn(overrides));
  }

  /** Worker options pointing at the given controller ports, in order. */
  public static WorkerOptions workerOptions(Path dir, JsonObject overrides, int... ports) {
    JsonArray servers = new JsonArray();
    for (int port : ports) {
      servers.add("https://127.0.0.1:" + port);
    }
    JsonObject json = new JsonObject()
        .put("servers", servers)
        .put("data_dir", dir.toString())
        .put("bridge_port", -1)
        .put("labels", new JsonObject().put("zone", "test"));
    return WorkerOptions.fromJson(json.mergeIn(overrides));
  }

  public static ControllerNode startController(Vertx vertx, ControllerOptions options) throws Exception {
    return await(ControllerNode.start(vertx, options), Duration.ofSeconds(60));
  }

  public static BootstrapToken mint(ControllerNode node) throws Exception {
    return await(node.controlPlane().tokens().mint(Duration.ofMinutes(10), 1));
  }

  /**
   * Writes a fresh join token into the worker's token file and returns the worker's next "up"
   * session event: start the agent with {@code options} after this, then await the event.
   */
  public static Future<JsonObject> enrol(Vertx vertx, ControllerNode controller, WorkerOptions options) throws Exception {
    SecureFiles.writePrivate(options.tokenFile(), mint(controller).encode());
    return WorkerJoinTest.sessionEvent(vertx, "up");
  }

  /** A test's teardown: stops the worker, then its controller; either may be null (never started). */
  public static void stop(WorkerAgent agent, ControllerNode controller) throws Exception {
    if (agent != null) {
      await(agent.stop(false));
    }
    if (controller != null) {
      await(controller.stop());
    }
  }

  /** A test's teardown: closes the legacy client, then stops the controller; either may be null. */
  static void stop(LegacyClient client, ControllerNode controller) throws Exception {
    if (client != null) {
      await(client.close());
    }
    if (controller != null) {
      await(controller.stop());
    }
  }

  /** A channel over TLS trusting the cluster CA; with an identity, over mTLS. */
  public static io.zlayer.worker.agent.ControllerChannel channel(Vertx vertx, ControllerNode node, Identity identity) {
    return io.zlayer.worker.agent.ControllerChannel.open(vertx,
        new io.zlayer.worker.config.HostPort("127.0.0.1", node.port()), node.controlPlane().ca().certificatePem(), identity);
  }

  /** A gRPC stub over TLS trusting the cluster CA; with an identity, over mTLS. */
  public static ClusterControlPlaneGrpcClient stub(Vertx vertx, ControllerNode node, Identity identity) {
    ControlPlane cp = node.controlPlane();
    HttpClientOptions options = new HttpClientOptions().setSsl(true).setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2).setVerifyHost(false)
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(cp.ca().certificatePem())));
    if (identity != null) {
      options.setKeyCertOptions(new PemKeyCertOptions().setKeyValue(Buffer.buffer(identity.keyPem()))
          .setCertValue(Buffer.buffer(identity.certPem())));
    }
    return ClusterControlPlaneGrpcClient.create(GrpcClient.client(vertx, options),
        SocketAddress.inetSocketAddress(node.port(), "127.0.0.1"));
  }
}
