package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14, limits a peer chooses: request headers over 8 KiB are refused on both protocols, never a 5xx. */
@ExtendWith(VertxExtension.class)
class HeaderLimitsTest {
  @TempDir
  Path dir;
  private ControllerNode controller;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  @AfterEach
  void stop() throws Exception {
    await(controller.stop());
  }

  /** The answer to GET /healthz with a header of {@code bytes}: the status, or -1 if the stream or connection was cut. */
  private int answer(Vertx vertx, HttpVersion version, int bytes) throws Exception {
    HttpClient http = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setTrustAll(true).setVerifyHost(false)
        .setUseAlpn(version == HttpVersion.HTTP_2).setProtocolVersion(version));
    try {
      return await(http.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1")
              .setPort(controller.port()).setURI("/healthz").putHeader("x-pad", "a".repeat(bytes)))
          .compose(req -> req.send())
          .map(resp -> resp.statusCode())
          .recover(e -> Future.succeededFuture(-1)));
    } finally {
      await(http.close());
    }
  }

  @Test
  void oversizedHeadersAreRefused(Vertx vertx) throws Exception {
    int http1Small = answer(vertx, HttpVersion.HTTP_1_1, 1_000);
    int http1Large = answer(vertx, HttpVersion.HTTP_1_1, 9_000);
    int http2Small = answer(vertx, HttpVersion.HTTP_2, 1_000);
    int http2Large = answer(vertx, HttpVersion.HTTP_2, 9_000);
    System.out.printf("abuse headers: limit 8 KiB; a 1,000-byte header: HTTP/1.1 %d, HTTP/2 %d; a 9,000-byte one:"
        + " HTTP/1.1 %d, HTTP/2 %s%n", http1Small, http2Small, http1Large, http2Large < 0 ? "cut" : http2Large);
    assertEquals(200, http1Small);
    assertEquals(200, http2Small);
    assertEquals(431, http1Large);
    assertTrue(http2Large == 431 || http2Large == -1, "HTTP/2: " + http2Large);
  }
}
