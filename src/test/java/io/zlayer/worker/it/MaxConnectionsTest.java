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
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code max_connections}: a controller holding as many connections as it may closes the next one
 * as soon as it is accepted (its worker then tries another controller) instead of running out of
 * descriptors; once one closes, a new one is served again.
 */
@ExtendWith(VertxExtension.class)
class MaxConnectionsTest {
  @TempDir
  Path dir;

  @Test
  void theConnectionOverTheLimitIsClosedAndServedOnceOneLeaves(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx,
        TestCluster.controllerOptions(dir, new JsonObject().put("max_connections", 3)));
    List<HttpClient> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        HttpClient c = client(vertx);
        clients.add(c);
        assertEquals(200, await(health(c, controller.port())), "connection " + (i + 1) + " of 3");
      }
      assertEquals(3, controller.controlPlane().streams().held());
      HttpClient over = client(vertx);
      clients.add(over);
      Throwable refused = await(health(over, controller.port()).<Throwable>map(code -> null).otherwise(e -> e));
      assertTrue(refused != null, "the fourth connection is closed, not served");
      assertEquals(3, controller.controlPlane().streams().held(), "the refused one is not counted");

      await(clients.remove(0).close());
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (controller.controlPlane().streams().held() > 2 && System.nanoTime() < deadline) {
        await(TestCluster.delay(vertx, 20)); // the server sees the close
      }
      HttpClient again = client(vertx);
      clients.add(again);
      assertEquals(200, await(health(again, controller.port())), "served once one left");
    } finally {
      for (HttpClient c : clients) {
        await(c.close());
      }
      await(controller.stop());
    }
  }

  private static HttpClient client(Vertx vertx) {
    return vertx.createHttpClient(new HttpClientOptions().setSsl(true).setTrustAll(true).setVerifyHost(false)
        .setUseAlpn(true).setProtocolVersion(HttpVersion.HTTP_2));
  }

  private static Future<Integer> health(HttpClient client, int port) {
    return client.request(HttpMethod.GET, port, "127.0.0.1", "/healthz")
        .compose(req -> req.send().compose(resp -> resp.body().map(b -> resp.statusCode())));
  }
}
