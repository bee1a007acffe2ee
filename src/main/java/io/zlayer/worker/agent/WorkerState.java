package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the worker's streams resume: the last applied assignment revision and the last applied
 * command id, persisted in {@code <data_dir>/state.json} (atomic replace) so a restarted worker
 * neither misses nor re-applies an event. Touched only from the agent's event loop; the file is
 * written on a worker thread, in order.
 */
public final class WorkerState {
  public static final String FILE = "state.json";

  private final Vertx vertx;
  private final Path file;
  private long lastRevision;
  private long lastCommandId;

  private WorkerState(Vertx vertx, Path file, long lastRevision, long lastCommandId) {
    this.vertx = vertx;
    this.file = file;
    this.lastRevision = lastRevision;
    this.lastCommandId = lastCommandId;
  }

  public static Future<WorkerState> load(Vertx vertx, Path dataDir) {
    Path file = dataDir.resolve(FILE);
    return vertx.executeBlocking(() -> {
      if (!Files.exists(file)) {
        return new WorkerState(vertx, file, 0, 0);
      }
      JsonObject json = new JsonObject(Files.readString(file));
      return new WorkerState(vertx, file, json.getLong("last_revision", 0L), json.getLong("last_command_id", 0L));
    });
  }

  public long lastRevision() {
    return lastRevision;
  }

  public long lastCommandId() {
    return lastCommandId;
  }

  public Future<Void> revisionApplied(long revision) {
    lastRevision = Math.max(lastRevision, revision);
    return persist();
  }

  public Future<Void> commandApplied(long id) {
    lastCommandId = Math.max(lastCommandId, id);
    return persist();
  }

  /** Forgets both resume points (a new identity starts a new history). */
  public Future<Void> reset() {
    lastRevision = 0;
    lastCommandId = 0;
    return persist();
  }

  private Future<Void> persist() {
    String json = new JsonObject().put("last_revision", lastRevision).put("last_command_id", lastCommandId).encode();
    return vertx.<Void>executeBlocking(() -> {
      write(json);
      return null;
    }, true);
  }

  private void write(String json) throws IOException {
    SecureFiles.writePrivate(file, json);
  }
}
