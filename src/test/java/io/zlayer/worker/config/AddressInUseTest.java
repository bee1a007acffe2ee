package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A second listener on a taken address fails with one line naming the address and the key. */
@ExtendWith(VertxExtension.class)
class AddressInUseTest {

  @Test
  void aTakenAddressIsNamedWithItsKey(Vertx vertx, VertxTestContext test) throws Exception {
    // Another program holds the port (a Vert.x server in this Vert.x would share it instead).
    java.net.ServerSocket holder = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
    int port = holder.getLocalPort();
    vertx.createHttpServer().requestHandler(r -> r.response().end()).listen(port, "127.0.0.1")
        .recover(AddressInUse.<HttpServer>explain("operator_http_addr", "127.0.0.1:" + port))
        .eventually(() -> {
          try {
            holder.close();
          } catch (java.io.IOException ignored) {
            // the test's own socket
          }
          return io.vertx.core.Future.succeededFuture();
        })
        .onComplete(test.failing(e -> test.verify(() -> {
          assertTrue(e instanceof ConfigException, e.toString());
          assertTrue(e.getMessage().startsWith("operator_http_addr 127.0.0.1:"), e.getMessage());
          assertTrue(e.getMessage().contains("address already in use") && e.getMessage().contains("set operator_http_addr"),
              e.getMessage());
          test.completeNow();
        })));
  }
}
