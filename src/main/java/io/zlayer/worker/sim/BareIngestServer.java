package io.zlayer.worker.sim;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.grpc.server.GrpcServer;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.TlsEngines;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcService;
import io.zlayer.worker.proto.StatusAck;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The bare stack the controller's ingest is measured against: Vert.x's HTTP/2 server and
 * vertx-grpc's server, TLS as the worker endpoint has it (OpenSSL, a server certificate from the
 * cluster's worker CA, client certificates requested and checked against that CA), serving
 * {@code ReportStatus} alone and answering each report with a constant {@link StatusAck}: no gate,
 * no lease, no record. One verticle per core, as the controller's endpoint.
 * Usage: {@code BareIngestServer --ca-dir DIR --cluster-id ID [--port 0] [--instances N]}.
 */
public final class BareIngestServer extends VerticleBase {
  private static final StatusAck ACK = StatusAck.newBuilder().setNextTtlSecs(60).build();
  private final ServerIdentity identity;
  private final String caPem;
  private final int port;
  private HttpServer server;

  BareIngestServer(ServerIdentity identity, String caPem, int port) {
    this.identity = identity;
    this.caPem = caPem;
    this.port = port;
  }

  public static void main(String[] args) throws Exception {
    Path caDir = null;
    String clusterId = null;
    int port = 0;
    int instances = Runtime.getRuntime().availableProcessors();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--ca-dir" -> caDir = Path.of(args[++i]);
        case "--cluster-id" -> clusterId = args[++i];
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--instances" -> instances = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (caDir == null || clusterId == null) {
      throw new IllegalArgumentException("usage: BareIngestServer --ca-dir DIR --cluster-id ID [--port 0] [--instances N]");
    }
    WorkerCa ca = WorkerCa.loadOrCreate(caDir, clusterId);
    ServerIdentity identity = ca.issueServerIdentity(List.of());
    Vertx vertx = Vertx.vertx();
    int bound = port;
    if (bound == 0) {
      try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        bound = s.getLocalPort();
      }
    }
    int listen = bound;
    vertx.deployVerticle(() -> new BareIngestServer(identity, ca.certificatePem(), listen),
        new DeploymentOptions().setInstances(instances)).await(30, TimeUnit.SECONDS);
    System.out.println("bare ingest server listening on 127.0.0.1:" + listen + " (" + instances + " instances, TLS via "
        + TlsEngines.describe(TlsEngines.preferred()) + ")");
  }

  @Override
  public Future<?> start() {
    GrpcServer grpc = GrpcServer.server(vertx);
    grpc.callHandler(ClusterControlPlaneGrpcService.ReportStatus, call -> {
      call.handler(report -> call.response().write(ACK));
      call.endHandler(v -> call.response().end());
    });
    server = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setUseAlpn(true)
        .setKeyCertOptions(new PemKeyCertOptions().setKeyValue(Buffer.buffer(identity.keyPem()))
            .setCertValue(Buffer.buffer(identity.certChainPem())))
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem)))
        .setClientAuth(ClientAuth.REQUEST)
        .setSslEngineOptions(TlsEngines.preferred()))
        .requestHandler(grpc);
    return server.listen(port, "127.0.0.1");
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }
}
