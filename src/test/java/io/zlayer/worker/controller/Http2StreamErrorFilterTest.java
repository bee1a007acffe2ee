package io.zlayer.worker.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpVersion;
import io.vertx.junit5.VertxExtension;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 14, item 13 without grpc-js: the ReportStatus exchange in plain HTTP/2. The server answers
 * the request's head with a first message, and ends the response with trailers when the request
 * ends (as {@code ControlPlaneGrpc.reportStatus} does). The client, on that first message, ends
 * its request and resets the stream in the same event-loop turn, so both frames leave in one
 * flush and the server reads them in one go (what grpc-js's cancel does when the box is busy).
 *
 * <p>On END_STREAM the server's end writes an empty DATA frame and the trailers; inside the read
 * nothing is flushed, so Netty's flow controller still holds both when RST_STREAM is read. Netty
 * cancels them ("Stream closed before write could take place", STREAM_CLOSED); the trailers were
 * written with a void promise, so the cancellation is fired into the pipeline, and Vert.x 5.0.7's
 * {@code VertxHttp2ConnectionHandler.exceptionCaught} closes the whole connection.
 * {@link #vertxClosesTheConnection} is the minimal reproducer (Vert.x only; it fails once Vert.x
 * stops doing that); the other test is the workaround.
 */
@ExtendWith(VertxExtension.class)
class Http2StreamErrorFilterTest {
  private HttpServer server;
  private HttpClient client;

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      await(client.close());
    }
    if (server != null) {
      await(server.close());
    }
  }

  @Test
  void vertxClosesTheConnection(Vertx vertx) throws Exception {
    start(vertx, conn -> { });
    HttpClientRequest req = await(client.request(HttpMethod.POST, server.actualPort(), "127.0.0.1", "/status"));
    assertTrue(await(endAndResetOnFirstMessage(vertx, req)), "Vert.x 5.0.7 closes the connection when a write to a reset "
        + "stream is cancelled; if this fails, Vert.x no longer does (Http2StreamErrorFilter may go)");
  }

  @Test
  void withTheFilterTheConnectionSurvives(Vertx vertx) throws Exception {
    start(vertx, Http2StreamErrorFilter::install);
    for (int i = 0; i < 5; i++) {
      HttpClientRequest req = await(client.request(HttpMethod.POST, server.actualPort(), "127.0.0.1", "/status"));
      assertFalse(await(endAndResetOnFirstMessage(vertx, req)), "connection closed after reset " + i);
    }
    // And the same connection still serves.
    Buffer small = await(client.request(HttpMethod.GET, server.actualPort(), "127.0.0.1", "/small")
        .compose(req -> req.send().compose(HttpClientResponse::body)));
    assertEquals("ok", small.toString());
  }

  private void start(Vertx vertx, Handler<HttpConnection> connectionHandler) throws Exception {
    server = await(vertx.createHttpServer()
        .connectionHandler(connectionHandler)
        .requestHandler(req -> {
          if (req.path().equals("/small")) {
            req.response().end("ok");
            return;
          }
          var resp = req.response();
          resp.write("ack");
          req.endHandler(v -> {
            resp.putTrailer("grpc-status", "0");
            resp.end();
          });
        })
        .listen(0, "127.0.0.1"));
    client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false));
  }

  /**
   * Writes a first message; on the server's first message, ends the request and resets the
   * stream at once (one flush); true when the connection closes within 1 s.
   */
  private static Future<Boolean> endAndResetOnFirstMessage(Vertx vertx, HttpClientRequest req) {
    Promise<Boolean> closed = Promise.promise();
    req.connection().closeHandler(v -> closed.tryComplete(true));
    req.response().onSuccess(resp -> resp.handler(first -> {
      req.end();
      req.reset();
      vertx.setTimer(1000, t -> closed.tryComplete(false));
    })).onFailure(closed::tryFail);
    req.setChunked(true); // HTTP/2: just a streamed body
    req.write("report");
    return closed.future();
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}
