package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** What push-config changed survives an agent restart; the worker's state is private to its user. */
@ExtendWith(VertxExtension.class)
class PushedConfigRestartTest {
  @TempDir
  Path dir;

  @Test
  void pushedLabelsSurviveARestartAndTheDataDirIsPrivate(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), controller.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(controller).encode());
    Future<JsonObject> up = WorkerJoinTest.sessionEvent(vertx, "up");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(options.dataDir())));

    await(vertx.eventBus().request(Addresses.OPERATOR_PUSH_CONFIG, new JsonObject().put("node_id", nodeId)
        .put("version", 2).put("yaml", "labels:\n  zone: eu\n  rack: r7\nheartbeat_max_ttl: 300s\n")));
    Path stored = options.dataDir().resolve("pushed-config.json");
    await(poll(vertx, () -> Files.exists(stored) && "r7".equals(agent.context().labels().get("rack"))));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stored)));
    await(agent.stop(false));

    Files.delete(options.tokenFile());
    Future<JsonObject> upAgain = WorkerJoinTest.sessionEvent(vertx, "up");
    WorkerAgent again = await(WorkerAgent.start(vertx, options));
    assertEquals(nodeId, await(upAgain).getLong("node_id"));
    assertEquals("r7", again.context().labels().get("rack"), "the pushed labels, not the file's");
    assertEquals("eu", again.context().labels().get("zone"));
    assertEquals(300, again.context().ttlBounds().max().toSeconds(), "the pushed TTL bound too");
    await(again.stop(false));
    await(controller.stop());
  }

  /** Completes when {@code check} (run on a worker thread: it touches files) holds; bounded. */
  private static Future<Void> poll(Vertx vertx, java.util.concurrent.Callable<Boolean> check) {
    Promise<Void> done = Promise.promise();
    long timer = vertx.setPeriodic(20, id -> vertx.executeBlocking(check, false).onSuccess(ok -> {
      if (ok) {
        done.tryComplete();
      }
    }));
    return done.future().timeout(15, TimeUnit.SECONDS).onComplete(x -> vertx.cancelTimer(timer));
  }
}
