package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console in headless Chromium: a joined worker shows ready; a drain started from the
 * page (after its confirmation) reaches the worker; when the worker dies the row turns
 * unreachable without a reload. Screenshots go to {@code target/console-*.png}.
 */
@ExtendWith(VertxExtension.class)
class ConsoleTest {
  @TempDir
  Path dir;

  @Test
  void fleetTableDrainAndLiveUnreachable(Vertx vertx) throws Exception {
    assertTrue(Chromium.installed(), "Debian's chromium is needed (.ci/run installs it): apt-get install -y chromium");
    JsonObject fastLeases = new JsonObject().put("heartbeat_min_ttl", "1s").put("heartbeat_grace", "1s");
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, fastLeases));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject().put("heartbeat_min_ttl", "1s"),
        controller.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(controller).encode());
    Future<JsonObject> up = WorkerJoinTest.sessionEvent(vertx, "up");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");
    String row = "document.querySelector('tr[data-node=\"" + nodeId + "\"]')";
    String state = row + " && " + row + ".querySelector('.state').textContent";

    try (Chromium chromium = Chromium.start(vertx, dir)) {
      await(chromium.open("http://127.0.0.1:" + controller.operatorPort() + "/ui/#token="
          + controller.controlPlane().adminToken()));
      await(chromium.waitFor(state + " === 'ready'", Duration.ofSeconds(20)));
      assertEquals(false, await(chromium.eval("location.hash.includes('token')")), "the token leaves the address bar");
      await(chromium.screenshot(Path.of("target", "console-fleet.png")));

      // Drain from the page: the confirmation is answered yes, the worker gets the command.
      Future<JsonObject> drained = Future.future(p -> vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_COMMANDS,
          m -> p.tryComplete(m.body())));
      await(chromium.eval("window.confirm = () => true; " + row + ".querySelector('button[data-action=\"drain\"]').click(); true"));
      assertEquals("drain", await(drained, Duration.ofSeconds(20)).getString("kind"));
      await(chromium.waitFor(state + " === 'draining'", Duration.ofSeconds(10)));

      // The worker dies (no deregistration): the row turns unreachable with no reload.
      long[] changedAt = new long[1];
      vertx.eventBus().<JsonObject>consumer(Addresses.NODE_STATE_CHANGED, m -> {
        if ("unreachable".equals(m.body().getString("state"))) {
          changedAt[0] = System.nanoTime();
        }
      });
      await(chromium.eval("window.__zlayerNoReload = true; true"));
      await(agent.stop(false));
      await(chromium.waitFor(state + " === 'unreachable'", Duration.ofSeconds(30)));
      long shownAt = System.nanoTime();
      assertEquals(true, await(chromium.eval("window.__zlayerNoReload === true")), "the page was not reloaded");
      System.out.printf("console showed unreachable %d ms after the controller's state change%n",
          (shownAt - changedAt[0]) / 1_000_000);
      await(chromium.eval("location.hash = '#/node/" + nodeId + "'; true"));
      await(chromium.waitFor("document.querySelector('#node-commands tbody tr')", Duration.ofSeconds(10)));
      await(chromium.screenshot(Path.of("target", "console-node.png")));
    } finally {
      await(controller.stop());
    }
  }
}
