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
 * neither misses nor re-applies an event. Updated from several verticles (so several event
 * loops): the fields are guarded by this object, and writes are chained so each one lands after
 * the previous and holds the latest values.
 */
public final class WorkerState implements io.zlayer.worker.agent.session.ResumeStore {
  public static final String FILE = "state.json";

  private final Vertx vertx;
  private final Path file;
  private long lastRevision;
  private long lastCommandId;
  private Future<Void> lastWrite = Future.succeededFuture();

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

  public synchronized long lastRevision() {
    return lastRevision;
  }

  public synchronized long lastCommandId() {
    return lastCommandId;
  }

  public synchronized Future<Void> revisionApplied(long revision) {
    lastRevision = Math.max(lastRevision, revision);
    return persist();
  }

  /** Moves the assignment resume point back (the executor applied less than was received). */
  public synchronized Future<Void> rewindRevision(long revision) {
    lastRevision = Math.min(lastRevision, revision);
    return persist();
  }

  public synchronized Future<Void> commandApplied(long id) {
    lastCommandId = Math.max(lastCommandId, id);
    return persist();
  }

  /** Forgets both resume points and the executor's assignments: a new identity starts a new history. */
  public Future<Void> reset() {
    synchronized (this) {
      lastRevision = 0;
      lastCommandId = 0;
    }
    return persist().compose(v -> vertx.eventBus().request(
        io.zlayer.worker.bus.Addresses.WORKER_EXECUTOR_RESET, new JsonObject()).<Void>mapEmpty().otherwiseEmpty());
  }

  private Future<Void> persist() {
    lastWrite = lastWrite.transform(previous -> vertx.<Void>executeBlocking(() -> {
      String json;
      synchronized (this) {
        json = new JsonObject().put("last_revision", lastRevision).put("last_command_id", lastCommandId).encode();
      }
      write(json);
      return null;
    }, false));
    return lastWrite;
  }

  private void write(String json) throws IOException {
    SecureFiles.writePrivate(file, json);
  }
}
