package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.zlayer.worker.config.HostPort;

/**
 * One HTTP/2 TLS connection to one controller, carrying the worker's gRPC calls. Trusts only
 * the cluster CA; presents the node certificate when the worker has one (mTLS). Hostname
 * verification is off on purpose: the trust anchor is the cluster's own CA, which issues
 * serverAuth only to controllers (worker certificates carry clientAuth only).
 */
public final class ControllerChannel {
  private static final int CONNECT_TIMEOUT_MS = 5000;

  private final HostPort server;
  private final GrpcClient grpc;
  private final SocketAddress address;
  /** A multiplexed channel's calls: on its one connection (null: through {@link #grpc}'s pool). */
  private final OneConnection bound;

  private ControllerChannel(HostPort server, GrpcClient grpc, OneConnection bound) {
    this.server = server;
    this.grpc = grpc;
    this.address = SocketAddress.inetSocketAddress(server.port(), server.host());
    this.bound = bound;
  }

  /** A channel trusting {@code caPem}; with {@code identity}, it also presents the node certificate. */
  public static ControllerChannel open(Vertx vertx, HostPort server, String caPem, Identity identity) {
    return open(vertx, server, caPem, identity, null);
  }

  /** As {@link #open(Vertx, HostPort, String, Identity)}, resuming and keeping the identity's TLS session in {@code sessions}. */
  public static ControllerChannel open(Vertx vertx, HostPort server, String caPem, Identity identity,
                                       TlsSessions sessions) {
    return new ControllerChannel(server, GrpcClient.client(vertx, options(caPem, identity, sessions)), null);
  }

  private static HttpClientOptions options(String caPem, Identity identity, TlsSessions sessions) {
    HttpClientOptions options = new HttpClientOptions()
        .setSsl(true)
        .setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false)
        .setVerifyHost(false)
        .setConnectTimeout(CONNECT_TIMEOUT_MS)
        .setSslEngineOptions(sessions != null && identity != null ? sessions.engineOptions(identity)
            : io.zlayer.worker.pki.TlsEngines.preferred())
        .setTrustOptions(io.vertx.core.net.TrustOptions.wrap(trustFor(caPem)));
    if (identity != null) {
      options.setKeyCertOptions(io.vertx.core.net.KeyCertOptions.wrap(new NodeKeyManager(identity)));
    }
    return options;
  }

  /**
   * The receive window of a {@link #openMultiplexed multiplexed} channel: gRPC-Java's default.
   * HTTP/2's 64 KiB default is one connection's worth for one node; a channel carrying 64
   * registrations at once (1.2 KiB of answer each) would run out of it whenever its event loop
   * is busy, and the controller would then queue, split and resend its answers.
   */
  static final int MULTIPLEXED_WINDOW_BYTES = 1 << 20;

  /**
   * A plain-TLS channel (no client certificate) that carries many nodes' calls at once, on one
   * connection (made again when it closes): the simulator's registrations, a fleet's worth over
   * a few connections. Its calls skip the client's connection pool, whose lookup per call cost
   * the simulator more than the controller's event loop spent on the same call. Use it from one
   * context only.
   */
  public static ControllerChannel openMultiplexed(Vertx vertx, HostPort server, String caPem) {
    HttpClientOptions options = options(caPem, null, null)
        .setHttp2ConnectionWindowSize(MULTIPLEXED_WINDOW_BYTES)
        .setInitialSettings(new io.vertx.core.http.Http2Settings().setInitialWindowSize(MULTIPLEXED_WINDOW_BYTES));
    io.vertx.core.http.HttpClientAgent http = vertx.createHttpClient(options);
    return new ControllerChannel(server, GrpcClient.client(vertx, http), new OneConnection(vertx, http, server));
  }

  /** The current connection of a multiplexed channel, and a gRPC client bound to it. */
  private static final class OneConnection {
    private final Vertx vertx;
    private final io.vertx.core.http.HttpClientAgent http;
    private final io.vertx.core.http.HttpConnectOptions connect;
    private Future<GrpcClient> current;

    OneConnection(Vertx vertx, io.vertx.core.http.HttpClientAgent http, HostPort server) {
      this.vertx = vertx;
      this.http = http;
      this.connect = new io.vertx.core.http.HttpConnectOptions().setHost(server.host()).setPort(server.port());
    }

    Future<GrpcClient> client() {
      Future<GrpcClient> c = current;
      if (c != null && !c.failed()) {
        return c;
      }
      io.vertx.core.Promise<GrpcClient> next = io.vertx.core.Promise.promise();
      Future<GrpcClient> made = next.future();
      current = made;
      http.connect(connect).onComplete(ar -> {
        if (ar.failed()) {
          next.fail(ar.cause()); // the next call connects again
          return;
        }
        ar.result().closeHandler(v -> {
          if (current == made) {
            current = null;
          }
        });
        next.complete(GrpcClient.client(vertx, ar.result()));
      });
      return made;
    }
  }

  /** One trust manager per CA, so a verified controller certificate is not verified again per connection. */
  private static final java.util.Map<String, ControllerTrust> TRUST = new java.util.concurrent.ConcurrentHashMap<>();

  private static ControllerTrust trustFor(String caPem) {
    return TRUST.computeIfAbsent(caPem, ControllerTrust::new);
  }

  public HostPort server() {
    return server;
  }

  public GrpcClient grpc() {
    return grpc;
  }

  public SocketAddress address() {
    return address;
  }

  /** A unary call on this channel; fails with {@link Rpc.RpcException} carrying status and message. */
  public <Req, Resp> Future<Resp> unary(io.vertx.grpc.common.ServiceMethod<Resp, Req> method, Req request) {
    if (bound != null) {
      return bound.client().compose(client -> Rpc.unary(client, address(), method, request));
    }
    return Rpc.unary(grpc, address(), method, request);
  }

  public Future<Void> close() {
    // A gRPC client made over an HTTP client leaves that client open: a multiplexed channel closes it.
    return bound != null ? bound.http.close() : grpc.close();
  }
}
