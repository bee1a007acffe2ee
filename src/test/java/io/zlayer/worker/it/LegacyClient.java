package io.zlayer.worker.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.controller.ControllerNode;

/** A plain HTTPS client of the legacy worker API (HTTP/2, many polls per connection). */
final class LegacyClient {
  record Reply(int status, String body, io.vertx.core.MultiMap headers) {
    Reply(int status, String body) {
      this(status, body, io.vertx.core.MultiMap.caseInsensitiveMultiMap());
    }

    JsonObject json() {
      return new JsonObject(body);
    }
  }

  private final HttpClient http;
  private final int port;

  LegacyClient(Vertx vertx, ControllerNode controller) {
    this.port = controller.port();
    this.http = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2).setVerifyHost(false)
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(controller.controlPlane().ca().certificatePem()))),
        new io.vertx.core.http.PoolOptions().setHttp2MaxSize(32));
  }

  Future<Reply> post(String path, String body, String token) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(port).setURI(path);
    if (token != null) {
      options.putHeader("X-ZLayer-Internal-Token", token);
    }
    // Nested, not chained: body() must be attached in the response future's own listener (see
    // VertxLateBodyTest; with the flat chain built on a test thread, Vert.x 5.0.7 can lose the body).
    return http.request(options).compose(req -> req.send(body).compose(resp -> resp.body()
        .map(b -> new Reply(resp.statusCode(), b.toString(), resp.headers()))));
  }

  Future<Reply> get(String path) {
    return http.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(port).setURI(path))
        .compose(req -> req.send().compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b.toString()))));
  }

  Future<JsonObject> register(String token) {
    return post("/worker/register", new JsonObject().put("token", token).put("profile", new JsonObject()
        .put("api_addr", "127.0.0.1:3669").put("os", "linux").put("arch", "x86_64")).encode(), null)
        .map(r -> {
          if (r.status() != 200) {
            throw new IllegalStateException("register: " + r.status() + " " + r.body());
          }
          return r.json();
        });
  }

  Future<Reply> poll(JsonObject node, long lastRevision, long waitSecs) {
    return post("/worker/poll", new JsonObject().put("node_id", node.getLong("node_id")).put("last_revision", lastRevision)
        .put("max_wait_secs", waitSecs).encode(), node.getString("internal_token"));
  }

  Future<Void> close() {
    return http.close();
  }
}
