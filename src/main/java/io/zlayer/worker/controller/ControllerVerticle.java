package io.zlayer.worker.controller;

import io.zlayer.worker.controller.grpc.GrpcInputGuard;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.grpc.server.GrpcServer;
import io.zlayer.worker.controller.core.NodeGate;
import io.zlayer.worker.controller.grpc.ControlPlaneGrpc;
import io.zlayer.worker.controller.grpc.StreamFootprint;
import io.zlayer.worker.controller.http.LegacyApi;
import io.zlayer.worker.pki.WorkerCertificateTrust;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker-facing endpoint: one HTTPS server (ALPN, HTTP/2) serving the gRPC
 * {@code ClusterControlPlane} and the HTTP routes on the same port, dispatched by content type.
 * TLS requests a client certificate but does not require one (Register has none); the
 * {@link NodeGate} decides per call. It wires the two adapters to the node service and the gate.
 */
public final class ControllerVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerVerticle.class);
  private final RefusalLog refusals = new RefusalLog(LOG);
  private static final String GRPC_CONTENT_TYPE = "application/grpc";
  /**
   * HPACK dynamic table a client may fill on each connection (HTTP/2 default 4,096). A worker
   * opens its three streams once per connection, so indexing its headers saves a few hundred
   * bytes on the wire once, while the table stays allocated for the connection's life.
   */
  static final long HPACK_TABLE_BYTES = 0;
  /**
   * Request headers a peer may send, HTTP/1.1 (the header block) and HTTP/2 (the decoded header
   * list): a worker's call sends a few hundred bytes (path, content type, {@code te}, a timeout);
   * larger is refused (431 on HTTP/1.1, the stream or connection refused on HTTP/2).
   */
  static final int MAX_HEADER_BYTES = 8 * 1024;
  /**
   * Rapid reset (CVE-2023-44487): a connection whose client resets more than this many streams
   * in {@link #RST_FLOOD_WINDOW_SECS} is sent GOAWAY {@code ENHANCE_YOUR_CALM}. A worker cancels
   * a stream when it reconnects or stops, a handful a minute; Netty's default. Tests that cancel
   * streams in a loop raise it with {@code -Dzlayer.http2RstFloodLimit}.
   */
  static final int RST_FLOOD_LIMIT = 200;
  static final int RST_FLOOD_WINDOW_SECS = 30;

  /** The calls a worker holds open for its session's life: only their footprint is worth trimming. */
  private static final java.util.Map<String, String> LONG_LIVED_CALLS = java.util.stream.Stream.of(
          io.zlayer.worker.proto.ClusterControlPlaneGrpcService.WatchAssignments,
          io.zlayer.worker.proto.ClusterControlPlaneGrpcService.WatchCommands,
          io.zlayer.worker.proto.ClusterControlPlaneGrpcService.ReportStatus)
      .map(m -> m.serviceName().pathOf(m.methodName()))
      .collect(java.util.stream.Collectors.toUnmodifiableMap(p -> p, p -> p)); // path -> the shared string

  private final ControlPlane cp;
  private HttpServer server;
  private LegacyApi legacy;
  private final GrpcInputGuard inputGuard = GrpcInputGuard.forControlPlane();
  private IdleConnections idle;
  /** How often the endpoint checks whether the TLS ticket keys' epoch has turned (a day long). */
  static final long TICKET_ROTATION_CHECK_MS = 60_000;
  private long ticketRotation = -1;

  public ControllerVerticle(ControlPlane cp) {
    this.cp = cp;
  }

  /** The port actually bound (useful when configured as 0). */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    GrpcServer grpc = new ControlPlaneGrpc(cp.nodeService(), cp.gate(), cp.streams(), cp.clusterId(),
        cp.ca().certificateDer()).create(vertx);
    legacy = new LegacyApi(vertx, cp.nodeService(), cp.gate(), cp.polls(), cp.clusterId());
    Router router = routes();
    legacy.mount(router);
    JsonErrors.install(router);
    idle = new IdleConnections(vertx, cp.options().connections());
    ticketRotation = vertx.setPeriodic(TICKET_ROTATION_CHECK_MS, id -> cp.tickets().rotate());
    int maxConnections = cp.options().connections().maxConnections();
    server = vertx.createHttpServer(serverOptions()).connectionHandler(connection -> {
      if (!cp.streams().admit(connection, maxConnections)) {
        refusals.refused(connection.remoteAddress() == null ? "unknown peer" : connection.remoteAddress().hostAddress(),
            "a connection over max_connections (" + maxConnections + "); its worker tries another controller");
        connection.close();
        return;
      }
      // A write cancelled by a client's RST_STREAM must not close the connection (Vert.x 5.0.7).
      Http2StreamErrorFilter.install(connection);
      UnclaimedConnections.claimed(connection);
      StreamFootprint.connectionOpened(connection);
      idle.opened(connection);
    }).requestHandler(req -> {
      idle.request(req, isGrpc(req), isGrpc(req) && inputGuard.clientStreaming(req.path()));
      if (isGrpc(req)) {
        String longLived = LONG_LIVED_CALLS.get(req.path());
        if (longLived != null) {
          StreamFootprint.apply(req);
          StreamFootprint.sharePath(req, longLived);
        }
        inputGuard.handle(req, checked -> {
          grpc.handle(checked);
          if (longLived != null) {
            StreamFootprint.callCreated(req);
          }
        });
      } else {
        router.handle(req);
      }
    });
    var addr = cp.options().workerGrpcAddr();
    return server.listen(addr.port(), addr.host())
        .recover(io.zlayer.worker.config.AddressInUse.<HttpServer>explain("worker_grpc_addr", addr))
        .onSuccess(s -> LOG.info("controller listening on {}:{} (gRPC + HTTP, TLS via {}), cluster {}",
            addr.host(), s.actualPort(), io.zlayer.worker.pki.TlsEngines.describe(io.zlayer.worker.pki.TlsEngines.preferred()),
            cp.clusterId()));
  }

  private HttpServerOptions serverOptions() {
    return new HttpServerOptions()
        .setSsl(true)
        .setUseAlpn(true)
        .setKeyCertOptions(new PemKeyCertOptions()
            .setKeyValue(Buffer.buffer(cp.serverIdentity().keyPem()))
            .setCertValue(Buffer.buffer(cp.serverIdentity().certChainPem())))
        .setTrustOptions(io.vertx.core.net.TrustOptions.wrap(new WorkerCertificateTrust(cp.ca(), cp.nodes()::knowsCertificate)))
        .setClientAuth(ClientAuth.REQUEST)
        .setSslHandshakeTimeout(cp.options().connections().tlsHandshakeTimeout().toMillis())
        .setSslHandshakeTimeoutUnit(java.util.concurrent.TimeUnit.MILLISECONDS)
        .setSslEngineOptions(cp.tickets().engineOptions(context -> UnclaimedConnections.wrap(context,
            cp.options().connections().idleTimeout().toMillis())))
        .setMaxHeaderSize(MAX_HEADER_BYTES)
        .setHttp2RstFloodMaxRstFramePerWindow(Integer.getInteger("zlayer.http2RstFloodLimit", RST_FLOOD_LIMIT))
        .setHttp2RstFloodWindowDuration(RST_FLOOD_WINDOW_SECS)
        .setInitialSettings(new io.vertx.core.http.Http2Settings()
            .setMaxConcurrentStreams(cp.options().connections().maxConcurrentStreams())
            .setMaxHeaderListSize(MAX_HEADER_BYTES)
            .setHeaderTableSize(HPACK_TABLE_BYTES));
  }

  private Router routes() {
    Router router = Router.router(vertx);
    router.get("/healthz").handler(rc -> rc.json(new JsonObject().put("status", "ok")
        .put("cluster_id", cp.clusterId()).put("nodes_live", cp.leases().size())));
    return router;
  }

  private static boolean isGrpc(HttpServerRequest req) {
    String type = req.getHeader("content-type");
    return type != null && type.startsWith(GRPC_CONTENT_TYPE);
  }

  @Override
  public Future<?> stop() {
    if (idle != null) {
      idle.close();
    }
    vertx.cancelTimer(ticketRotation);
    return server == null ? Future.succeededFuture() : server.close();
  }
}
