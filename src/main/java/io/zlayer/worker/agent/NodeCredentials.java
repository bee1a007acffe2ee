package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.zlayer.worker.agent.session.CredentialStore;
import io.zlayer.worker.agent.session.Credentials;
import io.zlayer.worker.agent.session.JoinTicket;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.config.Protocol;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.Optional;

/**
 * The agent's side of joining: the token read from {@code token_file} and the controller's CA
 * pinned before it is sent ({@link CaPin}), fresh keys made off the event loop, and the
 * credentials kept in {@code identity_dir} (certificate files for gRPC, {@code legacy.json} for
 * the legacy API), each mode 0600.
 */
final class NodeCredentials implements CredentialStore {
  private final Vertx vertx;
  private final WorkerOptions options;

  NodeCredentials(Vertx vertx, WorkerOptions options) {
    this.vertx = vertx;
    this.options = options;
  }

  private boolean legacy() {
    return options.protocol() == Protocol.HTTP;
  }

  /** A registration attempt's ticket: the token, with the CA it pins found on {@code server}. */
  Future<JoinTicket> ticket(HostPort server) {
    return vertx.executeBlocking(() -> JoinPreflight.readToken(options))
        .compose(token -> CaPin.discover(vertx, server, token.caSha256())
            .map(caPem -> new JoinTicket(token.encode(), token.clusterId(), caPem, () -> { })));
  }

  Future<KeyMaterial> keys() {
    return vertx.executeBlocking(() -> {
      KeyPair keys = WorkerKeys.generateP256();
      return new KeyMaterial(Pem.privateKeyToPem(keys.getPrivate()), WorkerKeys.createCsr(keys, "zlayer-worker"));
    }, false);
  }

  @Override
  public Future<Optional<Credentials>> load() {
    Path dir = options.identityDir();
    return vertx.executeBlocking(() -> legacy() ? LegacyIdentity.load(dir).map(c -> (Credentials) c)
        : Identity.load(dir).map(c -> (Credentials) c));
  }

  @Override
  public Future<Void> save(Credentials credentials) {
    Path dir = options.identityDir();
    return vertx.executeBlocking(() -> {
      if (credentials instanceof Identity id) {
        id.save(dir);
      } else if (credentials instanceof LegacyIdentity id) {
        id.save(dir);
      }
      return null;
    });
  }

  @Override
  public Future<Void> forget() {
    Path dir = options.identityDir();
    return vertx.executeBlocking(() -> {
      for (String f : List.of(Identity.CERT, Identity.KEY, Identity.CA, LegacyIdentity.FILE)) {
        Files.deleteIfExists(dir.resolve(f));
      }
      return null;
    });
  }
}
