package io.zlayer.worker.agent.session;

import io.vertx.core.Future;
import java.util.Optional;

/** Where a node's credentials live between runs: files for the agent, memory for the simulator. */
public interface CredentialStore {
  Future<Optional<Credentials>> load();

  Future<Void> save(Credentials credentials);

  /** Forgets the credentials (the node left the cluster). */
  Future<Void> forget();

  static CredentialStore inMemory() {
    return new CredentialStore() {
      private Credentials held;

      @Override
      public Future<Optional<Credentials>> load() {
        return Future.succeededFuture(Optional.ofNullable(held));
      }

      @Override
      public Future<Void> save(Credentials credentials) {
        held = credentials;
        return Future.succeededFuture();
      }

      @Override
      public Future<Void> forget() {
        held = null;
        return Future.succeededFuture();
      }
    };
  }
}
