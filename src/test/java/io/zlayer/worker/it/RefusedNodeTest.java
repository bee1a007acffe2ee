package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.agent.session.Session;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node the controller refuses for good (revoked, deregistered) ends its agent with
 * {@link Session#EXIT_REFUSED} and says so once, instead of retrying forever.
 */
@ExtendWith(VertxExtension.class)
class RefusedNodeTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private WorkerAgent agent;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(agent, controller);
  }

  private long join(Vertx vertx, JsonObject overrides) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), overrides, controller.port());
    Future<JsonObject> up = TestCluster.enrol(vertx, controller, options);
    agent = await(WorkerAgent.start(vertx, options));
    return await(up).getLong("node_id");
  }

  private void operator(Vertx vertx, String address, long nodeId) throws Exception {
    JsonObject body = new JsonObject().put("node_id", nodeId);
    if (Addresses.OPERATOR_DEREGISTER.equals(address)) {
      body.put("reason", "test");
    }
    await(vertx.eventBus().request(address, body));
  }

  @Test
  void aRevokedNodeEndsTheAgentWithTheRefusalCode(Vertx vertx) throws Exception {
    long nodeId = join(vertx, new JsonObject());
    Future<JsonObject> exit = WorkerJoinTest.sessionEvent(vertx, "exit");
    operator(vertx, Addresses.OPERATOR_REVOKE, nodeId);
    assertEquals(Session.EXIT_REFUSED, await(agent.exit(), Duration.ofSeconds(30)));
    JsonObject event = await(exit);
    assertEquals(nodeId, event.getLong("node_id"));
    assertTrue(event.getString("cause").contains("UNAUTHENTICATED"), event.encode());
  }

  @Test
  void aDeregisteredLegacyNodeEndsTheAgentWithTheRefusalCode(Vertx vertx) throws Exception {
    long nodeId = join(vertx, new JsonObject().put("protocol", "http"));
    Future<JsonObject> exit = WorkerJoinTest.sessionEvent(vertx, "exit");
    operator(vertx, Addresses.OPERATOR_DEREGISTER, nodeId);
    assertEquals(Session.EXIT_REFUSED, await(agent.exit(), Duration.ofSeconds(60)));
    assertEquals(nodeId, await(exit).getLong("node_id"), "the legacy exit event names the node");
  }
}
