package io.zlayer.worker.controller.grpc;

import io.zlayer.worker.controller.RefusalLog;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import io.vertx.core.internal.http.HttpServerRequestWrapper;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcService;
import io.zlayer.worker.proto.DeregisterRequest;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RenewCertificateRequest;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import io.zlayer.worker.proto.WatchCommandsRequest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks every gRPC request at the edge, before vertx-grpc sees a byte of it: content type,
 * method, {@code grpc-encoding}, each message's frame (flag, announced length against the
 * method's limit), its decompressed size (gzip is inflated here, never past the limit), that it
 * parses as the method's request type, and that a unary call carries exactly one message.
 * vertx-grpc then only ever receives whole, uncompressed, well-formed messages.
 *
 * <p>Why here: vertx-grpc 5.0.7 inflates gzip without a bound (a 260 KB message became 256 MB on
 * the event loop), throws out of its deframer on a compressed flag without an encoding (the call
 * hangs), and answers decoding failures {@code INTERNAL}. A refusal is answered with a gRPC status
 * ({@code INVALID_ARGUMENT}, {@code RESOURCE_EXHAUSTED} or {@code UNIMPLEMENTED}) and costs at
 * most one log line, rate-limited per peer ({@link RefusalLog}).
 *
 * <p>Unary calls are read whole (at most their limit) before the call is handed on; the
 * client-streaming call ({@code ReportStatus}) is checked message by message as it flows.
 */
public final class GrpcInputGuard {
  private static final Logger LOG = LoggerFactory.getLogger(GrpcInputGuard.class);
  private static final int HEADER_BYTES = 5;
  private static final String ACCEPTED_ENCODINGS = "identity,gzip";

  /** Register: a token, a CSR (~0.5 KB) and a profile; 64 KiB is ~50x a real one, and the legacy body limit. */
  public static final int REGISTER_MAX_BYTES = 64 * 1024;
  /** RenewCertificate: a node id and a CSR. */
  public static final int RENEW_MAX_BYTES = 16 * 1024;
  /** Watches and Deregister: a node id, a revision, a short reason. */
  public static final int SMALL_MAX_BYTES = 4 * 1024;
  /** One status report: a node running a few thousand replicas still fits. */
  public static final int STATUS_REPORT_MAX_BYTES = 1024 * 1024;

  /** What one method may receive. */
  record Limit(int maxBytes, Parser<?> parser, boolean streaming) {
  }

  private final Map<String, Limit> limits;
  private final RefusalLog refusals;

  GrpcInputGuard(Map<String, Limit> limits, RefusalLog refusals) {
    this.limits = Map.copyOf(limits);
    this.refusals = refusals;
  }

  /** The guard for {@code ClusterControlPlane} with its per-method limits. */
  public static GrpcInputGuard forControlPlane() {
    return new GrpcInputGuard(Map.of(
        path(ClusterControlPlaneGrpcService.Register), new Limit(REGISTER_MAX_BYTES, RegisterRequest.parser(), false),
        path(ClusterControlPlaneGrpcService.RenewCertificate), new Limit(RENEW_MAX_BYTES, RenewCertificateRequest.parser(), false),
        path(ClusterControlPlaneGrpcService.Deregister), new Limit(SMALL_MAX_BYTES, DeregisterRequest.parser(), false),
        path(ClusterControlPlaneGrpcService.WatchAssignments), new Limit(SMALL_MAX_BYTES, WatchAssignmentsRequest.parser(), false),
        path(ClusterControlPlaneGrpcService.WatchCommands), new Limit(SMALL_MAX_BYTES, WatchCommandsRequest.parser(), false),
        path(ClusterControlPlaneGrpcService.ReportStatus), new Limit(STATUS_REPORT_MAX_BYTES, StatusReport.parser(), true)),
        new RefusalLog(LOG));
  }

  /** The largest message any method accepts (vertx-grpc's own limit, as a second fence). */
  public static long largestMessage() {
    return STATUS_REPORT_MAX_BYTES;
  }

  /** Whether {@code path} is a call whose request side stays open (its messages flow for the session). */
  public boolean clientStreaming(String path) {
    Limit limit = limits.get(path);
    return limit != null && limit.streaming;
  }

  private static String path(ServiceMethod<?, ?> method) {
    return method.serviceName().pathOf(method.methodName());
  }

  /**
   * Checks {@code request} (a gRPC call on the event loop that received it) and hands a
   * checked request to {@code next}, or answers it with a refusal.
   */
  public void handle(HttpServerRequest request, Handler<HttpServerRequest> next) {
    if (request.version() != HttpVersion.HTTP_2) {
      refuseHttp(request, 415, "gRPC over " + request.version());
      return;
    }
    String type = contentType(request.getHeader("content-type"));
    if (!"application/grpc".equals(type) && !"application/grpc+proto".equals(type)) {
      refuseHttp(request, 415, "content type " + printable(type));
      return;
    }
    Limit limit = limits.get(request.path());
    if (limit == null) {
      refuse(request, GrpcStatus.UNIMPLEMENTED, "no such method: " + printable(request.path()));
      return;
    }
    String encoding = request.getHeader("grpc-encoding");
    boolean gzip;
    if (encoding == null || encoding.equalsIgnoreCase("identity")) {
      gzip = false;
    } else if (encoding.equalsIgnoreCase("gzip")) {
      gzip = true;
    } else {
      request.response().putHeader("grpc-accept-encoding", ACCEPTED_ENCODINGS);
      refuse(request, GrpcStatus.UNIMPLEMENTED, "grpc-encoding " + printable(encoding) + " is not supported ("
          + ACCEPTED_ENCODINGS + " are)");
      return;
    }
    new Call(request, limit, gzip, next).start();
  }

  /** One call's reading: frames are cut from the chunks and each message checked. */
  private final class Call {
    private final HttpServerRequest request;
    private final Limit limit;
    private final boolean gzip;
    private final Handler<HttpServerRequest> next;
    private Checked checked;
    private Buffer pending;
    private Buffer message; // a unary call's one message
    private boolean refused;

    Call(HttpServerRequest request, Limit limit, boolean gzip, Handler<HttpServerRequest> next) {
      this.request = request;
      this.limit = limit;
      this.gzip = gzip;
      this.next = next;
    }

    void start() {
      request.handler(this::chunk);
      request.endHandler(v -> end());
      if (limit.streaming) {
        checked = new Checked((HttpServerRequestInternal) request);
        next.handle(checked);
      }
    }

    private void chunk(Buffer chunk) {
      if (refused || chunk.length() == 0) {
        return;
      }
      pending = pending == null ? chunk.copy() : pending.appendBuffer(chunk);
      // Messages are read at an offset and the rest is kept once, at the end: cutting the rest off
      // after each message copied it again per message (a chunk of n reports cost O(n^2) bytes copied).
      int at = 0;
      while (!refused && pending != null && pending.length() - at >= HEADER_BYTES) {
        int flag = pending.getUnsignedByte(at);
        long length = pending.getUnsignedInt(at + 1);
        if (flag > 1) {
          refuse(request, GrpcStatus.INVALID_ARGUMENT, "message flag " + flag + " (0 or 1 expected)");
        } else if (flag == 1 && !gzip) {
          refuse(request, GrpcStatus.INVALID_ARGUMENT, "compressed message without a grpc-encoding");
        } else if (length > limit.maxBytes) {
          refuse(request, GrpcStatus.RESOURCE_EXHAUSTED, "message of " + length + " bytes; at most "
              + limit.maxBytes + " for " + request.path());
        } else if (!limit.streaming && message != null) {
          refuse(request, GrpcStatus.INVALID_ARGUMENT, "more than one message on a unary call");
        } else if (pending.length() - at >= HEADER_BYTES + length) {
          Buffer payload = pending.getBuffer(at + HEADER_BYTES, at + HEADER_BYTES + (int) length);
          at += HEADER_BYTES + (int) length;
          accept(flag == 1 ? inflate(payload) : payload);
        } else {
          break;
        }
      }
      if (!refused && pending != null) {
        pending = at == pending.length() ? null : at == 0 ? pending : pending.getBuffer(at, pending.length());
      }
    }

    private void accept(Buffer payload) {
      if (payload == null) {
        return; // refused while inflating
      }
      try {
        limit.parser.parseFrom(payload.getBytes());
      } catch (InvalidProtocolBufferException e) {
        refuse(request, GrpcStatus.INVALID_ARGUMENT, "message is not a valid " + request.path() + " request");
        return;
      }
      Buffer frame = Buffer.buffer(HEADER_BYTES + payload.length()).appendByte((byte) 0).appendInt(payload.length())
          .appendBuffer(payload);
      if (limit.streaming) {
        checked.deliver(frame);
      } else {
        message = frame;
      }
    }

    private Buffer inflate(Buffer compressed) {
      byte[] out = new byte[Math.min(limit.maxBytes, 64 * 1024)];
      int size = 0;
      try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(compressed.getBytes()), 8 * 1024)) {
        while (true) {
          if (size == out.length) {
            if (size >= limit.maxBytes) {
              if (in.read() < 0) {
                break;
              }
              refuse(request, GrpcStatus.RESOURCE_EXHAUSTED, "message inflates past " + limit.maxBytes
                  + " bytes, the limit for " + request.path());
              return null;
            }
            out = java.util.Arrays.copyOf(out, Math.min(limit.maxBytes, out.length * 2));
          }
          int n = in.read(out, size, out.length - size);
          if (n < 0) {
            break;
          }
          size += n;
        }
      } catch (IOException | RuntimeException e) {
        refuse(request, GrpcStatus.INVALID_ARGUMENT, "message is not valid gzip");
        return null;
      }
      return Buffer.buffer(size).appendBytes(out, 0, size);
    }

    private void end() {
      if (refused) {
        return;
      }
      if (pending != null && pending.length() > 0) {
        refuse(request, GrpcStatus.INVALID_ARGUMENT, "truncated message: the stream ended inside a frame ("
            + pending.length() + " bytes left over)");
      } else if (limit.streaming) {
        checked.finish();
      } else if (message == null) {
        refuse(request, GrpcStatus.INVALID_ARGUMENT, "no request message on a unary call");
      } else {
        Checked call = new Checked((HttpServerRequestInternal) request);
        Buffer frame = message;
        message = null;
        // A unary call's request side is over: nothing keeps this reader (a watch would hold it,
        // and vertx-grpc's handlers, for the stream's life).
        request.handler(null);
        request.endHandler(null);
        next.handle(call);
        call.deliver(frame);
        call.finish();
        call.release();
      }
    }

    private void refuse(HttpServerRequest req, GrpcStatus status, String why) {
      refused = true;
      pending = null;
      message = null;
      GrpcInputGuard.this.refuse(req, status, why);
    }
  }

  /** The request as vertx-grpc sees it: its data and end are the checked frames. */
  private static final class Checked extends HttpServerRequestWrapper {
    private Handler<Buffer> data;
    private Handler<Void> end;

    Checked(HttpServerRequestInternal delegate) {
      super(delegate);
    }

    @Override
    public HttpServerRequest handler(Handler<Buffer> handler) {
      this.data = handler;
      return this;
    }

    @Override
    public HttpServerRequest endHandler(Handler<Void> handler) {
      this.end = handler;
      return this;
    }

    void deliver(Buffer frame) {
      Handler<Buffer> h = data;
      if (h != null) {
        h.handle(frame);
      }
    }

    void finish() {
      Handler<Void> h = end;
      if (h != null) {
        h.handle(null);
      }
    }

    /** Nothing more will be delivered: forget the handlers. */
    void release() {
      data = null;
      end = null;
    }
  }

  private void refuse(HttpServerRequest request, GrpcStatus status, String why) {
    refusals.refused(peer(request), request.path() + ": " + status + " " + why);
    HttpServerResponse response = request.response();
    if (response.ended() || response.closed()) {
      return;
    }
    String message = percentEncode(why);
    if (!response.headWritten()) {
      response.setStatusCode(200).putHeader("content-type", "application/grpc")
          .putHeader("grpc-status", Integer.toString(status.code)).putHeader("grpc-message", message);
    } else {
      response.trailers().set("grpc-status", Integer.toString(status.code)).set("grpc-message", message);
    }
    response.end();
    // The rest of a refused call's data is read and dropped, not reset: clients count a server's
    // RST_STREAMs as an attack past 200 in 30 s (Netty's Http2MaxRstFrameListener) and would drop
    // the whole connection. A call still sending after http_request_timeout is cut (IdleConnections).
  }

  private void refuseHttp(HttpServerRequest request, int status, String why) {
    refusals.refused(peer(request), request.path() + ": HTTP " + status + " " + why);
    HttpServerResponse response = request.response();
    if (!response.ended() && !response.closed()) {
      response.setStatusCode(status).putHeader("content-type", "application/json")
          .end(new io.vertx.core.json.JsonObject().put("error", why).encode());
    }
  }

  private static String peer(HttpServerRequest request) {
    var address = request.remoteAddress();
    return address == null ? "unknown peer" : address.hostAddress();
  }

  private static String contentType(String header) {
    if (header == null) {
      return null;
    }
    int semicolon = header.indexOf(';');
    return (semicolon < 0 ? header : header.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
  }

  /** A peer's text in our messages: short and printable. */
  private static String printable(String text) {
    if (text == null) {
      return "(none)";
    }
    String cut = text.length() > 64 ? text.substring(0, 64) + "..." : text;
    return "\"" + cut.replaceAll("[^\\x20-\\x7e]", "?") + "\"";
  }

  /** gRPC's grpc-message encoding: printable ASCII but '%' as is, the rest percent-encoded. */
  static String percentEncode(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= 0x20 && c < 0x7f && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
