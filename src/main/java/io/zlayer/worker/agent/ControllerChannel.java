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

  private ControllerChannel(HostPort server, GrpcClient grpc) {
    this.server = server;
    this.grpc = grpc;
    this.address = SocketAddress.inetSocketAddress(server.port(), server.host());
  }

  /** A channel trusting {@code caPem}; with {@code identity}, it also presents the node certificate. */
  public static ControllerChannel open(Vertx vertx, HostPort server, String caPem, Identity identity) {
    return open(vertx, server, caPem, identity, null);
  }

  /** As {@link #open(Vertx, HostPort, String, Identity)}, resuming and keeping the identity's TLS session in {@code sessions}. */
  public static ControllerChannel open(Vertx vertx, HostPort server, String caPem, Identity identity,
                                       TlsSessions sessions) {
    return new ControllerChannel(server, GrpcClient.client(vertx, options(caPem, identity, sessions)));
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
   * A plain-TLS channel (no client certificate) that carries many nodes' calls at once: the
   * simulator's registrations, a fleet's worth over a few connections.
   */
  public static ControllerChannel openMultiplexed(Vertx vertx, HostPort server, String caPem) {
    HttpClientOptions options = options(caPem, null, null)
        .setHttp2ConnectionWindowSize(MULTIPLEXED_WINDOW_BYTES)
        .setInitialSettings(new io.vertx.core.http.Http2Settings().setInitialWindowSize(MULTIPLEXED_WINDOW_BYTES));
    return new ControllerChannel(server, GrpcClient.client(vertx, options));
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
    return Rpc.unary(grpc, address(), method, request);
  }

  public Future<Void> close() {
    return grpc.close();
  }
}
