package io.zlayer.worker.store.etcd;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.InvalidStatusException;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.zlayer.worker.store.StoreUnavailableException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Vert.x gRPC client to etcd (HTTP/2 with prior knowledge, or TLS with ALPN): unary calls with
 * a deadline and typed failures, and the streams the watch hub, leases and elections open. Every
 * callback runs on the Vert.x context that made the call: there is no second gRPC stack.
 */
final class EtcdClient {
  /** etcd answers whole ranges in one message; the client's default 256 KiB is far too small. */
  static final long MAX_MESSAGE_BYTES = 256L * 1024 * 1024;
  /** Room past the request deadline for the guard that also covers connecting. */
  private static final long GUARD_SLACK_MS = 500;

  private final GrpcClient client;
  private final List<SocketAddress> addresses = new ArrayList<>();
  private final List<String> endpoints;
  private final long timeoutMs;
  /** Index of the endpoint in use; moves on after an unavailable failure. */
  private volatile int current;

  EtcdClient(Vertx vertx, EtcdStoreOptions options) {
    this.endpoints = options.endpoints();
    this.timeoutMs = options.requestTimeout().toMillis();
    for (String e : endpoints) {
      URI u = EtcdStoreOptions.uri(e);
      String host = u.getHost().startsWith("[") ? u.getHost().substring(1, u.getHost().length() - 1) : u.getHost();
      addresses.add(SocketAddress.inetSocketAddress(u.getPort(), host));
    }
    HttpClientOptions http = new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false)
        .setConnectTimeout((int) Math.min(timeoutMs, Integer.MAX_VALUE));
    if (options.tls()) {
      http.setSsl(true).setUseAlpn(true);
      if (options.caFile() != null) {
        http.setTrustOptions(new PemTrustOptions().addCertPath(options.caFile().toString()));
      }
      if (options.certFile() != null) {
        http.setKeyCertOptions(new PemKeyCertOptions()
            .setCertPath(options.certFile().toString()).setKeyPath(options.keyFile().toString()));
      }
    }
    HttpClient httpClient = vertx.httpClientBuilder()
        .with(http)
        .withConnectHandler(EtcdRstAllowance::lift)
        .build();
    // GrpcClient.client(vertx, httpClient) would take the default options (a 256 KiB message cap);
    // the impl's constructor takes both (and closes the HTTP client with the gRPC client).
    this.client = new io.vertx.grpc.client.impl.GrpcClientImpl(vertx,
        new GrpcClientOptions().setMaxMessageSize(MAX_MESSAGE_BYTES).setScheduleDeadlineAutomatically(true),
        httpClient, true) {
    };
  }

  String endpoint() {
    return endpoints.get(current);
  }

  long timeoutMs() {
    return timeoutMs;
  }

  /** A unary call that fails within the request deadline, with a typed error. */
  <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request) {
    return call(method, request, true);
  }

  /**
   * A unary call; {@code bounded=false} for calls that wait by design (an election campaign),
   * which still fail at once when etcd cannot be reached.
   */
  <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request, boolean bounded) {
    int used = current;
    Future<Resp> f = client.request(addresses.get(used), method).compose(req -> {
      if (bounded) {
        req.timeout(timeoutMs, TimeUnit.MILLISECONDS);
      }
      return req.send(request).compose(resp -> resp.last().recover(e -> Future.failedFuture(
          statusFailure(method, resp.status(), resp.statusMessage(), e))));
    });
    if (bounded) {
      f = f.timeout(timeoutMs + GUARD_SLACK_MS, TimeUnit.MILLISECONDS);
    }
    return f.recover(e -> Future.failedFuture(translate(method, used, e)));
  }

  /** Opens a stream (on the caller's context); the caller writes requests and reads the response. */
  <Req, Resp> Future<GrpcClientRequest<Req, Resp>> stream(ServiceMethod<Resp, Req> method) {
    int used = current;
    return client.request(addresses.get(used), method)
        .timeout(timeoutMs + GUARD_SLACK_MS, TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(translate(method, used, e)));
  }

  /** Typed form of a stream's failure. */
  RuntimeException streamFailure(ServiceMethod<?, ?> method, Throwable e) {
    return translate(method, current, e);
  }

  Future<Void> close() {
    return client.close();
  }

  private RuntimeException statusFailure(ServiceMethod<?, ?> method, GrpcStatus status, String message,
                                         Throwable cause) {
    if (status == null || status == GrpcStatus.UNAVAILABLE || status == GrpcStatus.DEADLINE_EXCEEDED
        || status == GrpcStatus.CANCELLED || timedOutInEtcd(message)) {
      return new StoreUnavailableException("etcd " + endpoint() + " did not answer " + method.methodName()
          + (status == null ? "" : " (" + status + (message == null ? "" : ": " + message) + ")")
          + "; a write's outcome is unknown", cause);
    }
    if (status == GrpcStatus.RESOURCE_EXHAUSTED
        || (message != null && message.contains("etcdserver: too many requests"))) {
      // etcd sheds load before it proposes anything (its applied index is too far behind):
      // nothing was written, and the caller may try again shortly, as with an unreachable etcd.
      return new StoreUnavailableException("etcd " + endpoint() + " is overloaded and refused " + method.methodName()
          + " (" + message + "); nothing was written", cause);
    }
    return new EtcdException(status, "etcd " + method.methodName() + " failed: " + status
        + (message == null ? "" : ": " + message), cause);
  }

  /**
   * etcd's own deadline or raft wait ran out before it answered: "context deadline exceeded" (sent
   * as UNKNOWN by grpc-go), "etcdserver: request timed out", "leader changed". The store is slow or
   * busy, not refusing the request: the caller may try again, as with an unreachable etcd.
   */
  private static boolean timedOutInEtcd(String message) {
    return message != null && (message.contains("context deadline exceeded") || message.contains("request timed out")
        || message.contains("leader changed"));
  }

  private RuntimeException translate(ServiceMethod<?, ?> method, int used, Throwable e) {
    if (e instanceof EtcdException ee) {
      return ee;
    }
    if (e instanceof InvalidStatusException ise) {
      e = statusFailure(method, ise.actualStatus(), null, ise);
    }
    if (e instanceof StoreUnavailableException su) {
      rotate(used);
      return su;
    }
    rotate(used);
    if (e instanceof java.util.concurrent.TimeoutException || (e instanceof io.vertx.grpc.common.GrpcErrorException ge
        && (ge.status() == GrpcStatus.CANCELLED || ge.status() == GrpcStatus.DEADLINE_EXCEEDED))) {
      return new StoreUnavailableException("etcd " + endpoints.get(used) + " did not answer " + method.methodName()
          + " within " + timeoutMs + " ms; a write's outcome is unknown", e);
    }
    // Refused at connect: nothing was sent. Anything else (a deadline, a dropped connection) may
    // have reached etcd.
    boolean notSent = e instanceof java.net.ConnectException;
    return new StoreUnavailableException("etcd " + endpoints.get(used) + " is unreachable (" + method.methodName()
        + ": " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage())
        + (notSent ? "); nothing was written" : "); a write's outcome is unknown"), e);
  }

  /** After a failure on endpoint {@code used}, later calls try the next one. */
  private void rotate(int used) {
    if (addresses.size() > 1 && current == used) {
      current = (used + 1) % addresses.size();
    }
  }
}
