package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The operator listener: Prometheus metrics, health, readiness, and the token-guarded /v1 API. */
@ExtendWith(VertxExtension.class)
class OperatorHttpTest {
  @TempDir
  Path dir;

  record Reply(int status, String contentType, String body) {
    JsonObject json() {
      return new JsonObject(body);
    }
  }

  static Future<Reply> http(Vertx vertx, int port, HttpMethod method, String path, String token, JsonObject body) {
    HttpClient client = vertx.createHttpClient();
    return client.request(method, port, "127.0.0.1", path).compose(req -> {
      if (token != null) {
        req.putHeader("authorization", "Bearer " + token);
      }
      // body() inside the response-head task (vert.x#6038: a late body() is lost)
      return (body == null ? req.send() : req.send(body.toBuffer()))
          .compose(res -> res.body().map(b -> new Reply(res.statusCode(), res.getHeader("content-type"), b.toString())));
    }).eventually(client::close);
  }

  @Test
  void metricsHealthAndTheGuardedApi(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    int op = controller.operatorPort();
    String admin = controller.controlPlane().adminToken();
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), controller.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(controller).encode());
    Future<JsonObject> up = WorkerJoinTest.sessionEvent(vertx, "up");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");

    assertEquals(200, await(http(vertx, op, HttpMethod.GET, "/healthz", null, null)).status());
    Reply ready = await(http(vertx, op, HttpMethod.GET, "/readyz", null, null));
    assertEquals(200, ready.status(), ready.body());

    // /v1 without, or with a wrong, admin token: 401 with a JSON error.
    for (String token : new String[] {null, "wrong", admin + "x"}) {
      Reply r = await(http(vertx, op, HttpMethod.GET, "/v1/nodes", token, null));
      assertEquals(401, r.status(), String.valueOf(token));
      assertTrue(r.json().getString("error").contains("admin token"), r.body());
    }
    Reply nodes = await(http(vertx, op, HttpMethod.GET, "/v1/nodes", admin, null));
    assertEquals(200, nodes.status(), nodes.body());
    assertEquals(nodeId, nodes.json().getJsonArray("nodes").getJsonObject(0).getLong("node_id"));

    // An action through /v1 reaches the worker, and the node page lists it among its events.
    Future<JsonObject> drained = Future.future(p -> vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_COMMANDS,
        m -> p.tryComplete(m.body())));
    Reply drain = await(http(vertx, op, HttpMethod.POST, "/v1/nodes/" + nodeId + "/drain", admin,
        new JsonObject().put("deadline_secs", 30)));
    assertEquals(200, drain.status(), drain.body());
    assertEquals("drain", await(drained).getString("kind"));
    Reply node = await(http(vertx, op, HttpMethod.GET, "/v1/nodes/" + nodeId, admin, null));
    assertEquals(200, node.status(), node.body());
    assertTrue(node.json().getJsonObject("events").getJsonArray("commands").stream()
        .anyMatch(c -> "drain".equals(((JsonObject) c).getString("kind"))), node.body());
    // Bad input: a clear 4xx with a JSON error.
    assertEquals(404, await(http(vertx, op, HttpMethod.GET, "/v1/nodes/999", admin, null)).status());
    assertEquals(400, await(http(vertx, op, HttpMethod.GET, "/v1/nodes/abc", admin, null)).status());
    Reply badBody = await(http(vertx, op, HttpMethod.POST, "/v1/nodes/" + nodeId + "/assign", admin, null)
        .compose(r -> http(vertx, op, HttpMethod.POST, "/v1/nodes/" + nodeId + "/nope", admin, new JsonObject())));
    assertEquals(404, badBody.status());

    // Prometheus text: parsed strictly, with our meters and the JVM's, process's and Netty's.
    Reply metrics = await(http(vertx, op, HttpMethod.GET, "/metrics", null, null));
    assertEquals(200, metrics.status());
    assertTrue(metrics.contentType().startsWith("text/plain"), metrics.contentType());
    Map<String, PrometheusText.Sample> samples = PrometheusText.parse(metrics.body());
    assertEquals(1.0, samples.get("zlayer_nodes{state=\"draining\"}").value(), "the drained node counts as draining");
    assertEquals(0.0, samples.get("zlayer_nodes{state=\"ready\"}").value());
    for (String name : List.of("zlayer_registrations_total", "zlayer_heartbeats_total", "zlayer_lease_expiries_total",
        "zlayer_worker_connections", "zlayer_legacy_polls_held", "zlayer_commands_total", "zlayer_store_commit_seconds_bucket",
        "jvm_memory_used_bytes", "process_cpu_usage", "process_files_open_files", "netty_allocator_memory_used")) {
      assertTrue(samples.values().stream().anyMatch(s -> s.name().equals(name)), name + " missing");
    }
    assertTrue(samples.get("zlayer_registrations_total{result=\"ok\"}").value() >= 1);
    assertTrue(samples.get("zlayer_commands_total{kind=\"drain\"}").value() >= 1);
    promtoolCheck(metrics.body());

    Reply json = await(http(vertx, op, HttpMethod.GET, "/v1/metrics", admin, null));
    assertTrue(json.json().containsKey("heartbeats"), json.body());
    await(agent.stop(false));
    await(controller.stop());
  }

  /** {@code promtool check metrics} when Debian's prometheus package is installed (.ci/run installs it). */
  static void promtoolCheck(String text) throws Exception {
    Path promtool = Path.of("/usr/bin/promtool");
    if (!Files.isExecutable(promtool)) {
      System.out.println("promtool not installed: skipping `promtool check metrics`");
      return;
    }
    Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
    assertEquals(0, p.exitValue(), "promtool check metrics: " + out);
    System.out.println("promtool check metrics: clean" + (out.isBlank() ? "" : " (" + out.strip() + ")"));
  }
}
