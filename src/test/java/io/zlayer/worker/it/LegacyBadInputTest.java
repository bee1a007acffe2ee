package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Bad input to the legacy API: the right 4xx with {"error": "..."} naming the problem, and no state change. */
@ExtendWith(VertxExtension.class)
class LegacyBadInputTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private LegacyClient client;
  private JsonObject node;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    client = new LegacyClient(vertx, controller);
    node = await(client.register(TestCluster.mint(controller).encode()));
  }

  @AfterEach
  void stop() throws Exception {
    await(client.close());
    await(controller.stop());
  }

  private void row(String path, String body, String token, int status, String errorText) throws Exception {
    long revision = await(controller.controlPlane().store().revision());
    long heartbeats = controller.controlPlane().nodeService().heartbeats();
    LegacyClient.Reply reply = await(client.post(path, body, token));
    assertEquals(status, reply.status(), path + " " + body + " -> " + reply.body());
    String error = reply.json().getString("error");
    assertTrue(error != null && error.contains(errorText), path + " " + body + ": error was " + reply.body());
    assertTrue(!reply.body().contains("Exception") && !reply.body().contains("\tat "), "no stack trace: " + reply.body());
    assertEquals(revision, await(controller.controlPlane().store().revision()), "no state change for " + body);
    assertEquals(heartbeats, controller.controlPlane().nodeService().heartbeats(), "no lease renewal for " + body);
  }

  @Test
  void badInputTable() throws Exception {
    String token = node.getString("internal_token");
    long id = node.getLong("node_id");
    String big = "{\"node_id\":" + id + ",\"pad\":\"" + "x".repeat(70_000) + "\"}";
    // path, body, token, status, error text
    row("/worker/poll", "{", token, 400, "not valid JSON");
    row("/worker/poll", "[1,2]", token, 400, "must be a JSON object");
    row("/worker/poll", "", token, 400, "body is empty");
    row("/worker/poll", "{\"last_revision\":0}", token, 400, "node_id is required");
    row("/worker/poll", "{\"node_id\":\"seven\"}", token, 400, "node_id must be a non-negative integer, got \"seven\"");
    row("/worker/poll", "{\"node_id\":" + id + ",\"last_revision\":-5}", token, 400, "last_revision must be a non-negative integer, got -5");
    row("/worker/poll", "{\"node_id\":" + id + ",\"max_wait_secs\":1.5}", token, 400, "max_wait_secs must be a non-negative integer");
    row("/worker/poll", "{\"node_id\":424242}", token, 404, "node 424242 is not registered");
    row("/worker/poll", "{\"node_id\":" + id + "}", null, 401, "X-ZLayer-Internal-Token");
    row("/worker/poll", "{\"node_id\":" + id + "}", "wrong", 401, "X-ZLayer-Internal-Token");
    row("/worker/poll", big, token, 413, "larger than 65536 bytes");
    row("/worker/status", "{\"node_id\":" + id + ",\"containers\":{}}", token, 400, "containers must be an array");
    row("/worker/status", "{\"node_id\":" + id + ",\"containers\":[{\"service\":\"a\",\"replica\":-1,\"state\":\"running\"}]}",
        token, 400, "containers[0].replica must be a non-negative integer, got -1");
    row("/worker/status", "{\"node_id\":" + id + ",\"resources\":{\"cpu_used\":\"lots\"}}", token, 400,
        "resources.cpu_used must be a non-negative number");
    row("/worker/status", "{\"node_id\":" + id + "}", "wrong", 401, "X-ZLayer-Internal-Token");
    row("/worker/register", "{\"profile\":{\"os\":\"linux\",\"arch\":\"x86_64\"}}", null, 400, "token is required");
    row("/worker/register", "{\"token\":5,\"profile\":{}}", null, 400, "token must be a string");
    row("/worker/register", "{\"token\":\"garbage\",\"profile\":{\"os\":\"linux\",\"arch\":\"x86_64\"}}", null, 401, "malformed");
    row("/worker/register", "{\"token\":\"" + TestCluster.mint(controller).encode() + "\",\"profile\":{\"os\":\"linux\"}}",
        null, 400, "profile.arch is required");
    row("/worker/register", "{\"token\":\"x\",\"profile\":[]}", null, 400, "profile must be an object");
    row("/worker/nope", "{}", null, 404, "no such endpoint");
  }
}
