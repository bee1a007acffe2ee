package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.CsrVerifier;
import io.zlayer.worker.pki.InvalidCsrException;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Admits a worker: checks its bootstrap token and CSR, picks its node id, signs its
 * certificate and stores the node, consuming the token in the same compare-and-set
 * transaction. A refused call stores nothing. Also signs renewed certificates. Called by the
 * {@link NodeService}.
 */
public final class Registrar {
  /** Node-id collisions with other controllers before giving up. */
  private static final int MAX_COMMIT_ATTEMPTS = 8;

  private final Vertx vertx;
  private final Store store;
  private final TokenService tokens;
  private final WorkerCa ca;
  private final NodeDirectory nodes;
  private final LeaseDirectory leases;
  private final Duration certValidity;
  private final Clock clock;
  private final KeyedQueue<String> tokenCommits = new KeyedQueue<>();
  /** Per token, the record this controller's last commit wrote (see {@link #currentToken}). */
  private final java.util.Map<String, KeyValue> lastWritten = new java.util.concurrent.ConcurrentHashMap<>();
  private static final int MAX_REMEMBERED_TOKENS = 4096;
  private final RegistrationLog registrations;
  /**
   * Registration crypto runs on one thread per core, not on the shared worker pool: in a storm
   * twenty threads time-slicing two cores only add switches, and the event loops wait behind them.
   */
  private final io.vertx.core.WorkerExecutor crypto;
  private final java.util.concurrent.atomic.AtomicLong attempts = new java.util.concurrent.atomic.AtomicLong();

  public Registrar(Vertx vertx, Store store, TokenService tokens, WorkerCa ca, NodeDirectory nodes,
                   LeaseDirectory leases, Duration certValidity, Clock clock) {
    this.vertx = vertx;
    this.store = store;
    this.tokens = tokens;
    this.ca = ca;
    this.nodes = nodes;
    this.leases = leases;
    this.certValidity = certValidity;
    this.clock = clock;
    this.registrations = new RegistrationLog(vertx);
    this.crypto = vertx.createSharedWorkerExecutor("zlayer-registration-crypto",
        Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  /** What a worker asks for: csrDer is null for legacy HTTP workers, which get no certificate. */
  public record Application(String bootstrapToken, long desiredNodeId, JsonObject profile,
                            byte[] csrDer, String protocol) {
  }

  /** An admitted node; legacy workers get an internal token instead of a certificate. */
  public record Admission(NodeRecord node, int ttlSecs, int graceSecs, WorkerCa.IssuedCertificate certificate,
                          String internalToken) {
  }

  private final java.util.concurrent.atomic.AtomicLong collisions = new java.util.concurrent.atomic.AtomicLong();

  /** Commits lost to another controller's registration (node id or token taken meanwhile; tests). */
  public long collisions() {
    return collisions.get();
  }

  /** Register calls received, admitted or not (exposed for metrics and tests). */
  public long attempts() {
    return attempts.get();
  }

  public Future<Admission> register(Application application) {
    attempts.incrementAndGet();
    try {
      Profiles.validate(application.profile());
    } catch (ControlPlaneException e) {
      return Future.failedFuture(e);
    }
    return tokens.check(application.bootstrapToken(), lastWritten::get)
        .compose(redemption -> {
          long nodeId = nodes.proposeId(application.desiredNodeId());
          return verifyAndSign(application.csrDer(), nodeId)
              .compose(signed -> commit(application, redemption, signed, nodeId, 1))
              .onFailure(refused -> nodes.release(nodeId));
        });
  }

  /** The CSR's key and a certificate for it; both null for legacy workers (no CSR). */
  private record Signed(PublicKey key, WorkerCa.IssuedCertificate certificate) {
  }

  /** A new certificate for a registered node's CSR (rotation before expiry); INVALID_ARGUMENT for a bad CSR. */
  public Future<WorkerCa.IssuedCertificate> renew(byte[] csrDer, long nodeId) {
    return verifyAndSign(csrDer == null ? new byte[0] : csrDer, nodeId).map(Signed::certificate);
  }

  /** CSR check and certificate signature in one trip to a worker thread (the crypto of a registration). */
  private Future<Signed> verifyAndSign(byte[] csrDer, long nodeId) {
    if (csrDer == null) {
      return Future.succeededFuture(new Signed(null, null));
    }
    return crypto.executeBlocking(() -> {
      PublicKey key;
      try {
        key = CsrVerifier.verify(csrDer);
      } catch (InvalidCsrException e) {
        throw ControlPlaneException.invalidArgument(e.getMessage());
      }
      return issue(key, nodeId);
    }, false);
  }

  /**
   * Stores the node with its signed certificate and consumes the token in one compare-and-set.
   * Commits of the same token are queued inside this controller (a token good for many uses
   * would otherwise make concurrent registrations collide on its record).
   */
  private Future<Admission> commit(Application application, TokenService.Redemption checked,
                                   Signed signed, long nodeId, int attempt) {
    String internalToken = signed.key() == null ? InternalTokens.mint() : null;
    WorkerCa.IssuedCertificate cert = signed.certificate();
    NodeRecord node = newRecord(nodeId, application, cert, internalToken);
    return tokenCommits.run(checked.tokenId(), () -> currentToken(application, checked, attempt)
        .compose(fresh -> {
          TokenService.Use use = fresh.use(); // the token's new record, encoded once
          return store.txn(
                  List.of(Compare.unchanged(fresh.record()), Compare.absent(node.key())),
                  List.of(use.op(), Op.put(node.key(), node.toJson().encode())))
              .map(result -> {
                if (!result.succeeded()) {
                  lastWritten.remove(fresh.tokenId());
                  return (Admission) null;
                }
                remember(use.consumedAt(result.revision()), fresh.tokenId());
                return admitted(node, cert, internalToken, fresh.tokenId(), result.revision());
              });
        }))
        .compose(admission -> {
          if (admission != null) {
            return Future.succeededFuture(admission);
          }
          // Lost a race with another controller: the node id was taken or the token used meanwhile.
          nodes.reserve(nodeId);
          collisions.incrementAndGet();
          if (attempt >= MAX_COMMIT_ATTEMPTS) {
            return Future.failedFuture(new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE,
                "registration kept colliding with other registrations; try again"));
          }
          long next = nodes.proposeId(0);
          return sign(signed.key(), next).compose(again -> commit(application, checked, again, next, attempt + 1));
        });
  }

  /**
   * The token's record to commit against. Commits of one token run one at a time here, so the
   * record this controller last wrote is current unless another controller changed it since; the
   * compare-and-set catches that, and the retry then reads the store. That saves a store read
   * per registration.
   */
  private Future<TokenService.Redemption> currentToken(Application application, TokenService.Redemption checked,
                                                       int attempt) {
    if (attempt > 1) {
      return tokens.check(application.bootstrapToken());
    }
    KeyValue written = lastWritten.get(checked.tokenId());
    if (written == null || written.modRevision() <= checked.record().modRevision()) {
      return Future.succeededFuture(checked);
    }
    try {
      return Future.succeededFuture(tokens.recheck(checked, written));
    } catch (ControlPlaneException e) {
      return Future.failedFuture(e);
    }
  }

  private void remember(KeyValue consumed, String tokenId) {
    if (lastWritten.size() >= MAX_REMEMBERED_TOKENS) {
      lastWritten.clear(); // only an optimisation: forgetting costs a store read
    }
    lastWritten.put(tokenId, consumed);
  }

  private Future<Signed> sign(PublicKey key, long nodeId) {
    if (key == null) {
      return Future.succeededFuture(new Signed(null, null));
    }
    return crypto.executeBlocking(() -> issue(key, nodeId), false);
  }

  /** Runs on the crypto executor. */
  private Signed issue(PublicKey key, long nodeId) {
    return new Signed(key, ca.issueWorkerCertificate(key, nodeId, certValidity));
  }

  private NodeRecord newRecord(long nodeId, Application application, WorkerCa.IssuedCertificate cert,
                               String internalToken) {
    String serial = cert == null ? null : cert.serialHex();
    String sha = cert == null ? null : cert.sha256();
    long notAfter = cert == null ? 0 : cert.notAfter().getEpochSecond();
    long now = clock.instant().getEpochSecond();
    return new NodeRecord(nodeId, NodeState.READY, application.profile(), serial, sha, notAfter,
        now, application.protocol(), "registered",
        internalToken == null ? null : InternalTokens.sha256(internalToken), null, now);
  }

  private Admission admitted(NodeRecord node, WorkerCa.IssuedCertificate cert, String internalToken, String tokenId,
                             long revision) {
    nodes.cache(node, revision);
    int ttl = leases.admit(node.nodeId(), clock.millis());
    registrations.admitted(node, tokenId, ttl);
    return new Admission(node, ttl, leases.ttl().graceSecs(), cert, internalToken);
  }

}
