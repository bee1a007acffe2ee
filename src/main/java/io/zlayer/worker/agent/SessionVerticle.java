package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.session.Credentials;
import io.zlayer.worker.agent.session.Refusal;
import io.zlayer.worker.agent.session.Session;
import io.zlayer.worker.agent.session.SessionListener;
import io.zlayer.worker.agent.session.SessionSettings;
import io.zlayer.worker.agent.session.Transport;
import io.zlayer.worker.agent.transport.GrpcTransport;
import io.zlayer.worker.agent.transport.LegacyTransport;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.config.Protocol;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.CommandResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the node's {@link Session} to the rest of the agent: its events go out on
 * {@link Addresses#WORKER_SESSION} (shapes as documented there), assignments on
 * {@link Addresses#WORKER_ASSIGNMENTS}, commands are applied by the {@link CommandApplier}; local
 * requests (report now, renew, shutdown) come in over the event bus.
 */
public final class SessionVerticle extends VerticleBase implements SessionListener {
  private static final Logger LOG = LoggerFactory.getLogger(SessionVerticle.class);

  private final AgentContext ctx;
  private Session session;
  private CommandApplier commands;
  private boolean legacy;

  public SessionVerticle(AgentContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public Future<?> start() {
    SessionSettings settings;
    try {
      settings = SessionSettings.of(JoinPreflight.servers(ctx.options()), ctx::ttlBounds);
    } catch (IllegalStateException e) {
      return Future.failedFuture(e);
    }
    legacy = ctx.options().protocol() == Protocol.HTTP;
    commands = new CommandApplier(vertx, ctx, this::shutdownCommand);
    NodeCredentials credentials = new NodeCredentials(vertx, ctx.options());
    ExecutorStatus status = new ExecutorStatus(vertx, ctx);
    Transport transport = legacy ? new LegacyTransport(vertx) : new GrpcTransport(vertx);
    session = new Session(vertx, settings, new Session.Parts(transport, credentials::ticket, credentials::keys,
        () -> SystemProfile.profile(ctx.options().apiAddr(), ctx.labels()), credentials, ctx.state(),
        status::snapshot, this), new Backoff());
    vertx.eventBus().consumer(Addresses.WORKER_REPORT_NOW, msg -> session.reportNow());
    return credentials.load().compose(loaded -> vertx.executeBlocking(() -> {
      JoinPreflight.requireTokenUnless(loaded.isPresent(), ctx.options());
      return loaded;
    })).onSuccess(loaded -> {
      loaded.ifPresent(c -> LOG.info("using the persisted identity of node {} (cluster {}) from {}", c.nodeId(),
          c.clusterId(), ctx.options().identityDir()));
      session.start();
    });
  }

  // ---- what the session tells ----

  @Override
  public void joined(Credentials credentials, boolean registered) {
    ctx.nodeId(credentials.nodeId());
    if (registered) {
      LOG.info("registered{} as node {} in cluster {}; identity saved in {}", legacy ? " over the legacy API" : "",
          credentials.nodeId(), credentials.clusterId(), ctx.options().identityDir());
    }
  }

  @Override
  public void up(Credentials credentials, HostPort server, long epoch) {
    JsonObject event = new JsonObject().put("state", "up").put("node_id", credentials.nodeId())
        .put("server", server.toString()).put("epoch", epoch);
    if (legacy) {
      event.put("protocol", "http");
    }
    vertx.eventBus().publish(Addresses.WORKER_SESSION, event);
  }

  @Override
  public void down(Credentials credentials, HostPort server, String cause, long epoch) {
    JsonObject event = new JsonObject().put("state", "down").put("node_id", credentials.nodeId())
        .put("server", server.toString()).put("cause", cause).put("epoch", epoch);
    if (legacy) {
      event.put("protocol", "http");
    }
    vertx.eventBus().publish(Addresses.WORKER_SESSION, event);
  }

  @Override
  public void failed(HostPort server, Throwable cause, boolean joining) {
    vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "failed")
        .put("server", server.toString()).put("cause", Session.describe(cause)).put("epoch", -1L));
  }

  @Override
  public void assignment(AssignmentEvent event) {
    vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, Events.assignmentToJson(event));
  }

  @Override
  public CommandResult command(CommandEvent command) {
    return commands.apply(command);
  }

  @Override
  public void commandApplied(CommandEvent command) {
    commands.applied(command);
  }

  @Override
  public void refused(Credentials credentials, Refusal refusal) {
    LOG.error("node {} was refused by the controller ({}): it was revoked, deregistered or collected, and retrying"
            + " cannot help; the agent exits with code {}. To join again: remove {} and write a new bootstrap token"
            + " (bin/worker token create) to {}", credentials.nodeId(), refusal.getMessage(), Session.EXIT_REFUSED,
        ctx.options().identityDir(), ctx.options().tokenFile());
    exit(Session.EXIT_REFUSED, refusal.getMessage());
  }

  private void exit(int code, String cause) {
    JsonObject event = new JsonObject().put("state", "exit").put("node_id", ctx.nodeId()).put("epoch", -1L);
    if (cause != null) {
      event.put("cause", cause);
    }
    vertx.eventBus().publish(Addresses.WORKER_SESSION, event);
    ctx.exit(code);
  }

  // ---- local requests (any thread) ----

  /**
   * Leaves the cluster: deregisters when up (gRPC only; the legacy API has none) and forgets the
   * identity; completes with whether the controller confirmed. The session stops either way.
   */
  public Future<Boolean> leave(String reason) {
    if (context == null || session == null) {
      return Future.succeededFuture(false); // never started
    }
    Promise<Boolean> left = Promise.promise();
    context.runOnContext(v -> (legacy ? session.stop().map(false) : session.leave(reason)).onComplete(left));
    return left.future();
  }

  /** Renews the node certificate now (it is otherwise renewed at two thirds of its lifetime); completes with the node id. */
  public Future<Long> renewCertificate() {
    if (context == null || session == null) {
      return Future.failedFuture("the session has not started");
    }
    Promise<Long> renewed = Promise.promise();
    context.runOnContext(v -> session.renew().map(Credentials::nodeId).onComplete(renewed));
    return renewed.future();
  }

  /** A Shutdown command: leave, then end the agent with 0. */
  private void shutdownCommand(String reason) {
    leave(reason).onComplete(ar -> exit(0, null));
  }

  @Override
  public Future<?> stop() {
    return session == null ? Future.succeededFuture() : session.stop();
  }
}
