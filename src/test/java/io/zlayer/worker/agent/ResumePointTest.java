package io.zlayer.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.config.WorkerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A worker killed between receiving an event and the executor storing it replays that event. */
@ExtendWith(VertxExtension.class)
class ResumePointTest {
  @TempDir
  Path dir;

  @Test
  void resumesFromWhatTheExecutorDurablyApplied(Vertx vertx) throws Exception {
    Files.writeString(dir.resolve("token"), "placeholder");
    Files.writeString(dir.resolve(WorkerState.FILE), new JsonObject().put("last_revision", 10).put("last_command_id", 3).encode());
    Files.writeString(dir.resolve("executor.json"), new JsonObject().put("applied_revision", 5).encode());
    WorkerOptions options = WorkerOptions.fromJson(new JsonObject().put("data_dir", dir.toString()).put("bridge_port", -1)
        .put("servers", new JsonArray().add("https://127.0.0.1:1")));
    WorkerAgent agent = WorkerAgent.start(vertx, options).toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    assertEquals(5, agent.context().state().lastRevision(), "replay from the executor's revision");
    assertEquals(3, agent.context().state().lastCommandId(), "commands are not rewound");
    agent.stop(false).toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }
}
