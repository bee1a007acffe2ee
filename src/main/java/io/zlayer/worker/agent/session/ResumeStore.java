package io.zlayer.worker.agent.session;

import io.vertx.core.Future;

/**
 * Where the session's streams resume: the last applied assignment revision and command id. The
 * agent persists them ({@code WorkerState}); the simulator keeps them in memory.
 */
public interface ResumeStore {
  long lastRevision();

  long lastCommandId();

  Future<Void> revisionApplied(long revision);

  Future<Void> commandApplied(long id);

  /** A new identity starts a new history. */
  Future<Void> reset();

  /** Resume points held in memory only. */
  static ResumeStore inMemory() {
    return new ResumeStore() {
      private long revision;
      private long commandId;

      @Override
      public long lastRevision() {
        return revision;
      }

      @Override
      public long lastCommandId() {
        return commandId;
      }

      @Override
      public Future<Void> revisionApplied(long r) {
        revision = Math.max(revision, r);
        return Future.succeededFuture();
      }

      @Override
      public Future<Void> commandApplied(long id) {
        commandId = Math.max(commandId, id);
        return Future.succeededFuture();
      }

      @Override
      public Future<Void> reset() {
        revision = 0;
        commandId = 0;
        return Future.succeededFuture();
      }
    };
  }
}
