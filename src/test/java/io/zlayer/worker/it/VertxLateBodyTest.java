package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpVersion;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Minimal reproducer, Vert.x only (no project code), of the "never answered" legacy request of the
 * two-endpoint probe (issue 15, item 1). The server answers; the client loses the body.
 *
 * <p>Vert.x 5.0.7's {@code HttpClientResponseImpl} completes a {@code body()} future only if
 * {@code body()} was called before the response's END was handled: {@code handleEnd} finds no
 * event handler and just stores the trailers, and a later {@code body()} creates a promise nobody
 * completes (eclipse-vertx/vert.x#6038, fixed by #6071 in 5.0.11).
 *
 * <p>The flat composition {@code client.request(o).compose(req -> req.send()).compose(resp -> resp.body())}
 * built on a thread that is not the request's event loop (a test thread) attaches the second
 * {@code compose} after the first returns. If the request is sent, answered and ended on the event
 * loop in between (the building thread was descheduled), the second listener is attached to an
 * already completed future, runs as a new task behind the END, and the body is lost. The nested
 * composition attaches {@code body()} in the response future's own listener, inside the task that
 * delivers the response head, before the END can be handled: that is the workaround.
 *
 * <p>This test forces the interleaving deterministically (it waits for the END before attaching
 * the late listener). When Vert.x is upgraded to 5.0.11 or later, {@link #lateBodyIsLost} fails:
 * then the late body is delivered, and the nested-composition rule becomes hygiene only.
 */
@ExtendWith(VertxExtension.class)
class VertxLateBodyTest {
  private HttpServer server;
  private HttpClient client;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    server = await(vertx.createHttpServer().requestHandler(req -> req.response().end("hello"))
        .listen(0, "127.0.0.1"));
    client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false));
  }

  @AfterEach
  void stop() throws Exception {
    await(client.close());
    await(server.close());
  }

  @Test
  void lateBodyIsLost(Vertx vertx) throws Exception {
    Future<HttpClientResponse> sent = client.request(HttpMethod.GET, server.actualPort(), "127.0.0.1", "/")
        .compose(req -> req.send());
    // The building thread is "descheduled" here until the response has ended on the event loop.
    HttpClientResponse resp = await(sent);
    await(until(vertx, () -> ended(resp)));
    // The flat chain's second stage now attaches, too late.
    Future<Buffer> body = sent.compose(HttpClientResponse::body);
    assertThrows(TimeoutException.class, () -> await(body.timeout(500, TimeUnit.MILLISECONDS)),
        "on Vert.x 5.0.7 a body() called after the END never completes (vert.x#6038); "
            + "if this fails, Vert.x delivers it now (5.0.11+)");
  }

  @Test
  void nestedCompositionAlwaysGetsTheBody() throws Exception {
    for (int i = 0; i < 200; i++) {
      Future<Buffer> body = client.request(HttpMethod.GET, server.actualPort(), "127.0.0.1", "/")
          .compose(req -> req.send().compose(HttpClientResponse::body));
      assertEquals("hello", await(body.timeout(5, TimeUnit.SECONDS)).toString());
    }
  }

  /** Whether the response's END was handled (5.0.7 keeps it only as the trailers field). */
  static boolean ended(HttpClientResponse resp) {
    try {
      java.lang.reflect.Field trailers = resp.getClass().getDeclaredField("trailers");
      trailers.setAccessible(true);
      return trailers.get(resp) != null;
    } catch (ReflectiveOperationException e) {
      return false;
    }
  }

  /** Completes when {@code condition} holds, checked every 5 ms, for at most 5 s. */
  private static Future<Void> until(Vertx vertx, java.util.function.BooleanSupplier condition) {
    Promise<Void> done = Promise.promise();
    long timer = vertx.setPeriodic(5, id -> {
      if (condition.getAsBoolean()) {
        vertx.cancelTimer(id);
        done.tryComplete();
      }
    });
    return done.future().timeout(5, TimeUnit.SECONDS).onFailure(e -> vertx.cancelTimer(timer));
  }

  @Test
  void endedSeesTheEnd() throws Exception {
    HttpClientResponse resp = await(client.request(HttpMethod.GET, server.actualPort(), "127.0.0.1", "/")
        .compose(req -> req.send().compose(r -> r.body().map(b -> r))), Duration.ofSeconds(5));
    assertTrue(ended(resp), "the probe used by lateBodyIsLost must see a handled END");
  }
}
