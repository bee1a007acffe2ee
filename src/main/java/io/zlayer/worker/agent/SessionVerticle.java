package io.zlayer.worker.agent;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.DeregisterRequest;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.RenewCertificateRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's session with the control plane. Loads the persisted identity or joins with the
 * bootstrap token (pinning the controller's CA first), opens the mTLS channel and publishes
 * "up"; the stream verticles then open their streams on it. When any stream fails, the session
 * publishes "down", closes the channel and tries the next server after a jittered backoff.
 */
public final class SessionVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(SessionVerticle.class);
  /** A session that stayed up this long resets the backoff. */
  static final Duration STABLE_AFTER = Duration.ofSeconds(10);
  private static final long DEREGISTER_TIMEOUT_MS = 5000;

  private final AgentContext ctx;
  private final Backoff backoff = new Backoff();
  private List<HostPort> servers;
  private int nextServer;
  private Identity identity;
  private long epoch;
  private boolean up;
  private boolean stopping;
  private long retryTimer = -1;
  private long stableTimer = -1;
  private long renewTimer = -1;
  private static final Duration RENEW_RETRY = Duration.ofMinutes(5);

  public SessionVerticle(AgentContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public Future<?> start() {
    try {
      servers = JoinPreflight.servers(ctx.options());
    } catch (IllegalStateException e) {
      return Future.failedFuture(e);
    }
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION_FAILED, this::streamFailed);
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SHUTDOWN, this::shutdown);
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_RENEW_CERTIFICATE, msg -> renew()
        .onSuccess(id -> msg.reply(new JsonObject().put("node_id", id.nodeId())))
        .onFailure(e -> msg.fail(500, describe(e))));
    Path identityDir = ctx.options().identityDir();
    return vertx.executeBlocking(() -> {
      var loaded = Identity.load(identityDir);
      JoinPreflight.requireTokenUnless(loaded.isPresent(), ctx.options());
      return loaded.orElse(null);
    }).onSuccess(loaded -> {
      identity = loaded;
      if (identity != null) {
        LOG.info("using the persisted identity of node {} (cluster {}) from {}", identity.nodeId(),
            identity.clusterId(), identityDir);
        ctx.nodeId(identity.nodeId());
      }
      attempt();
    });
  }

  private void attempt() {
    retryTimer = -1;
    if (stopping) {
      return;
    }
    HostPort server = servers.get(Math.floorMod(nextServer++, servers.size()));
    Future<Identity> ready = identity != null ? Future.succeededFuture(identity) : register(server);
    ready.onSuccess(id -> {
      identity = id;
      ctx.nodeId(id.nodeId());
      ctx.channel(ControllerChannel.open(vertx, server, id.caPem(), id));
      up = true;
      epoch++;
      LOG.info("session up: node {} with controller {}", id.nodeId(), server);
      vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "up")
          .put("node_id", id.nodeId()).put("server", server.toString()).put("epoch", epoch));
      stableTimer = vertx.setTimer(STABLE_AFTER.toMillis(), t -> backoff.reset());
      scheduleRenewal(id);
    }).onFailure(e -> {
      vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "failed")
          .put("server", server.toString()).put("cause", describe(e)).put("epoch", -1L));
      retryLater(server, describe(e));
    });
  }

  private void streamFailed(Message<JsonObject> msg) {
    JsonObject body = msg.body();
    if (!up || body.getLong("epoch", -1L) != epoch) {
      return; // a late failure of a session already torn down
    }
    down(ctx.channel().server(), "stream " + body.getString("stream") + ": " + body.getString("cause"));
  }

  private void down(HostPort server, String cause) {
    close(server, cause);
    retryLater(server, "session lost: " + cause);
  }

  /** Publishes "down" and closes the channel; the caller decides when to try again. */
  private void close(HostPort server, String cause) {
    up = false;
    vertx.cancelTimer(stableTimer);
    vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "down")
        .put("node_id", ctx.nodeId()).put("server", server.toString()).put("cause", cause).put("epoch", epoch));
    ControllerChannel channel = ctx.channel();
    ctx.channel(null);
    if (channel != null) {
      channel.close();
    }
  }

  private void retryLater(HostPort server, String cause) {
    if (stopping) {
      return;
    }
    Duration delay = backoff.next();
    HostPort next = servers.get(Math.floorMod(nextServer, servers.size()));
    LOG.warn("controller {}: {}; trying {} in {} ms", server, cause, next, delay.toMillis());
    retryTimer = vertx.setTimer(delay.toMillis(), t -> attempt());
  }

  /** Joins the cluster through {@code server}: pin its CA, send token + CSR, persist the identity. */
  private Future<Identity> register(HostPort server) {
    return vertx.executeBlocking(() -> JoinPreflight.readToken(ctx.options()))
        .compose(token -> CaPin.discover(vertx, server, token.caSha256())
            .compose(caPem -> vertx.executeBlocking(() -> {
              KeyPair keys = WorkerKeys.generateP256();
              return new Object[] {keys, WorkerKeys.createCsr(keys, "zlayer-worker")};
            }, false).compose(pair -> {
              KeyPair keys = (KeyPair) pair[0];
              ControllerChannel channel = ControllerChannel.open(vertx, server, caPem, null);
              RegisterRequest request = RegisterRequest.newBuilder()
                  .setBootstrapToken(token.encode())
                  .setProfile(SystemProfile.profile(ctx.options().apiAddr(), ctx.labels()))
                  .setCsrDer(ByteString.copyFrom((byte[]) pair[1]))
                  .build();
              return channel.unary(ClusterControlPlaneGrpcClient.Register, request)
                  .eventually(channel::close)
                  .compose(response -> persist(token, response, keys));
            })));
  }

  private Future<Identity> persist(BootstrapToken token, RegisterResponse response, KeyPair keys) {
    return vertx.executeBlocking(() -> {
      if (response.getNodeId() == 0 || response.getCaChainDerCount() == 0) {
        throw new IllegalStateException("controller answered Register without a node id or CA");
      }
      if (!token.clusterId().equals(response.getClusterId())) {
        throw new IllegalStateException("controller answered for cluster " + response.getClusterId()
            + ", but the token is for " + token.clusterId());
      }
      String caPem = Pem.encode(Pem.CERTIFICATE, response.getCaChainDer(0).toByteArray());
      if (!WorkerCa.spkiSha256(Pem.parseCertificates(caPem).get(0)).equalsIgnoreCase(token.caSha256())) {
        throw new IllegalStateException("controller returned a CA that the token does not pin");
      }
      Identity id = Identity.of(Pem.encode(Pem.CERTIFICATE, response.getSignedCertDer().toByteArray()),
          Pem.privateKeyToPem(keys.getPrivate()), caPem);
      id.save(ctx.options().identityDir());
      LOG.info("registered as node {} in cluster {} (heartbeat ttl {}s); identity saved in {}", id.nodeId(),
          id.clusterId(), response.getHeartbeatTtlSecs(), ctx.options().identityDir());
      return id;
    }).compose(id -> ctx.state().reset().map(id));
  }

  /** When to renew a certificate: at two thirds of its lifetime (kubelet rotates at 70-90 %). */
  static java.time.Instant renewAt(java.security.cert.X509Certificate cert) {
    long from = cert.getNotBefore().getTime();
    long to = cert.getNotAfter().getTime();
    return java.time.Instant.ofEpochMilli(from + (to - from) * 2 / 3);
  }

  private void scheduleRenewal(Identity id) {
    vertx.cancelTimer(renewTimer);
    long delay = Math.max(1, renewAt(id.certificate()).toEpochMilli() - System.currentTimeMillis());
    renewTimer = vertx.setTimer(delay, t -> renew().onFailure(e -> {
      LOG.warn("node {}: certificate renewal failed: {}; retrying in {} s", id.nodeId(), describe(e),
          RENEW_RETRY.toSeconds());
      renewTimer = vertx.setTimer(RENEW_RETRY.toMillis(), x -> scheduleRenewal(identity));
    }));
  }

  /**
   * Rotates the node certificate: new key and CSR, {@code RenewCertificate} over the current
   * session, the new identity saved (0600), then the session reconnects with it. The controller
   * keeps accepting the previous certificate until it expires, so a crash in between is harmless.
   */
  private Future<Identity> renew() {
    ControllerChannel channel = ctx.channel();
    Identity current = identity;
    if (!up || channel == null || current == null) {
      return Future.failedFuture("no session is up");
    }
    return vertx.executeBlocking(() -> {
      KeyPair keys = WorkerKeys.generateP256();
      return new Object[] {keys, WorkerKeys.createCsr(keys, "zlayer-worker")};
    }, false).compose(pair -> channel.unary(ClusterControlPlaneGrpcClient.RenewCertificate,
            RenewCertificateRequest.newBuilder().setNodeId(current.nodeId())
                .setCsrDer(ByteString.copyFrom((byte[]) pair[1])).build())
        .compose(response -> vertx.executeBlocking(() -> {
          Identity next = Identity.of(Pem.encode(Pem.CERTIFICATE, response.getSignedCertDer().toByteArray()),
              Pem.privateKeyToPem(((KeyPair) pair[0]).getPrivate()), current.caPem());
          next.save(ctx.options().identityDir());
          return next;
        })))
        .onSuccess(next -> {
          identity = next;
          LOG.info("node {} renewed its certificate (valid until {}); reconnecting with it", next.nodeId(),
              next.certificate().getNotAfter().toInstant());
          if (up) {
            nextServer--; // same server, new certificate
            close(channel.server(), "certificate renewed");
            attempt();
          }
        });
  }

  /** Deregisters (when up), forgets the identity and replies; the agent then exits. */
  private void shutdown(Message<JsonObject> msg) {
    String reason = msg.body() == null ? "shutdown" : msg.body().getString("reason", "shutdown");

    stopping = true;
    vertx.cancelTimer(retryTimer);
    ControllerChannel channel = ctx.channel();
    boolean exit = msg.body() != null && msg.body().getBoolean("exit", false);
    if (!up || channel == null || identity == null) {
      LOG.info("stopping without deregistering: no session is up");
      finish(msg, false, exit);
      return;
    }
    channel.unary(ClusterControlPlaneGrpcClient.Deregister,
            DeregisterRequest.newBuilder().setNodeId(identity.nodeId()).setReason(reason).build())
        .timeout(DEREGISTER_TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
        .compose(r -> vertx.executeBlocking(() -> {
          for (String f : List.of(Identity.CERT, Identity.KEY, Identity.CA)) {
            Files.deleteIfExists(ctx.options().identityDir().resolve(f));
          }
          return null;
        }))
        .onSuccess(v -> {
          LOG.info("node {} deregistered ({}); joining again needs a new bootstrap token", identity.nodeId(), reason);
          finish(msg, true, exit);
        })
        .onFailure(e -> {
          LOG.warn("could not deregister node {}: {}", identity.nodeId(), describe(e));
          finish(msg, false, exit);
        });
  }

  private void finish(Message<JsonObject> msg, boolean deregistered, boolean exit) {
    msg.reply(new JsonObject().put("deregistered", deregistered));
    if (exit) {
      vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "exit")
          .put("node_id", ctx.nodeId()).put("epoch", -1L));
    }
  }

  static String describe(Throwable e) {
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(retryTimer);
    vertx.cancelTimer(stableTimer);
    vertx.cancelTimer(renewTimer);
    ControllerChannel channel = ctx.channel();
    ctx.channel(null);
    return channel == null ? Future.succeededFuture() : channel.close();
  }
}
