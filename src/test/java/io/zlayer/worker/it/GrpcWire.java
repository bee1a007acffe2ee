package io.zlayer.worker.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.StreamResetException;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.controller.ControllerNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * A raw gRPC client for hostile input: plain HTTP/2 over TLS carrying hand-made gRPC frames, so a
 * test can send what no gRPC library would (bad flags, lying lengths, unknown encodings).
 */
final class GrpcWire {
  static final String SERVICE = "/zlayer.cluster.v1.ClusterControlPlane/";
  static final String REGISTER = SERVICE + "Register";
  static final String REPORT_STATUS = SERVICE + "ReportStatus";
  static final String WATCH_ASSIGNMENTS = SERVICE + "WatchAssignments";
  static final String DEREGISTER = SERVICE + "Deregister";

  /** What came back: the HTTP status, the gRPC status (null if none), or a stream reset. */
  record Answer(int http, String grpcStatus, String message, boolean reset) {
    boolean internal() {
      return "13".equals(grpcStatus) || http >= 500;
    }

    @Override
    public String toString() {
      return reset ? "reset" : "http " + http + " grpc-status " + grpcStatus + " " + (message == null ? "" : message);
    }
  }

  private final HttpClient http;
  private final int port;

  GrpcWire(Vertx vertx, ControllerNode controller) {
    this.port = controller.port();
    this.http = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2).setVerifyHost(false).setHttp2MultiplexingLimit(1_000)
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(controller.controlPlane().ca().certificatePem()))),
        new io.vertx.core.http.PoolOptions().setHttp2MaxSize(1));
  }

  Future<Answer> call(String path, Map<String, String> headers, Buffer body) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
        .setURI(path).setIdleTimeout(10_000).putHeader("content-type", "application/grpc").putHeader("te", "trailers");
    headers.forEach(options::putHeader);
    // body() inside the response-head task: a late body() is lost on Vert.x 5.0.7 (vert.x#6038)
    return http.request(options)
        .compose(req -> req.send(body).compose(resp -> resp.body().map(b -> {
          String status = resp.headers().get("grpc-status");
          String message = resp.headers().get("grpc-message");
          if (status == null) {
            status = resp.trailers().get("grpc-status");
            message = resp.trailers().get("grpc-message");
          }
          return new Answer(resp.statusCode(), status, message, false);
        })))
        .recover(e -> e instanceof StreamResetException ? Future.succeededFuture(new Answer(0, null, null, true))
            : Future.failedFuture(e));
  }

  /** Sends {@code body} and never ends the request; completes when the server answers or resets it. */
  Future<Answer> callWithoutEnd(String path, Buffer body) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port)
        .setURI(path).putHeader("content-type", "application/grpc").putHeader("te", "trailers");
    return http.request(options).compose(req -> {
      io.vertx.core.Promise<Answer> answer = io.vertx.core.Promise.promise();
      req.exceptionHandler(e -> answer.tryComplete(new Answer(0, null, null, true)));
      req.response().onComplete(ar -> {
        if (ar.succeeded()) {
          String status = ar.result().headers().get("grpc-status");
          answer.tryComplete(new Answer(ar.result().statusCode(), status, ar.result().headers().get("grpc-message"), false));
        } else {
          answer.tryComplete(new Answer(0, null, null, true));
        }
      });
      req.setChunked(true).write(body);
      return answer.future();
    });
  }

  Future<Void> close() {
    return http.close();
  }

  /** A gRPC frame: flag, announced length, payload (the length may lie). */
  static Buffer frame(int flag, long length, byte[] payload) {
    return Buffer.buffer().appendByte((byte) flag).appendUnsignedInt(length).appendBytes(payload);
  }

  static Buffer frame(byte[] payload) {
    return frame(0, payload.length, payload);
  }

  static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  /** gzip of {@code inflatedBytes} zeros, built a megabyte at a time. */
  static byte[] gzipBomb(long inflatedBytes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] zeros = new byte[1 << 20];
    try (GZIPOutputStream gz = new GZIPOutputStream(out, 1 << 16)) {
      for (long written = 0; written < inflatedBytes; written += zeros.length) {
        gz.write(zeros);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }
}
