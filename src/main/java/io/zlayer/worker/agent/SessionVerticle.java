package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Promise;
import io.vertx.core.eventbus.Message;
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
 * requests (report now, renew, shutdown, leave) come in over the event bus.
 *
 * <p>Leaving ({@link Addresses#WORKER_LEAVE}, sent by {@code bin/worker leave}, or a Shutdown
 * command) deregisters, forgets the identity, stops the workloads and forgets the assignments
 * and pushed config, then ends the agent with 0.
 */
public final class SessionVerticle extends VerticleBase implements SessionListener {
  private static final Logger LOG = LoggerFactory.getLogger(SessionVerticle.class);
  /** Between the reply to a leave request and the agent's exit, so the reply reaches the local tool first. */
  private static final long LEAVE_REPLY_FLUSH_MS = 200;
  /** The executor stops every replica within its stop grace (KILL after it); a bound on the whole wait. */
  private static final long LEAVE_STOP_WAIT_MS = 30_000;
  /** Failure codes of a leave request. */
  static final int LEAVE_NOT_POSSIBLE = 409;
  static final int LEAVE_FAILED = 500;

  private final AgentContext ctx;
  private Session session;
  private CommandApplier commands;
  private boolean legacy;
  private boolean leaving;

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
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_LEAVE, this::onLeaveRequest);
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
    leaving = true;
    session.leave(reason).compose(left -> left ? forgetWork() : Future.succeededFuture())
        .onComplete(ar -> exit(0, null));
  }

  /**
   * {@code bin/worker leave}: deregister, stop the workloads, forget the identity, exit 0; the
   * reply says so once done. Refused (and nothing changes) when the node cannot deregister now.
   */
  private void onLeaveRequest(Message<JsonObject> msg) {
    String reason = msg.body() == null ? "" : msg.body().getString("reason", "");
    String why = reason.isBlank() ? "bin/worker leave" : reason;
    if (leaving) {
      msg.fail(LEAVE_NOT_POSSIBLE, "the agent is already leaving or stopping");
      return;
    }
    if (legacy) {
      msg.fail(LEAVE_NOT_POSSIBLE, "cannot deregister over the legacy HTTP API (protocol: http): nothing was changed");
      return;
    }
    if (!session.up()) {
      msg.fail(LEAVE_NOT_POSSIBLE, "not connected to a controller, so the node cannot deregister now: nothing was"
          + " changed; try again when the worker is connected");
      return;
    }
    leaving = true;
    long nodeId = ctx.nodeId();
    LOG.info("node {} leaving the cluster on request ({})", nodeId, why);
    session.leave(why).onComplete(ar -> {
      if (ar.failed() || !ar.result()) {
        // The session has stopped; the node is still registered: keep the workloads, end the agent.
        msg.fail(LEAVE_FAILED, "the controller did not confirm the deregistration; the agent stops, the node stays"
            + " registered and its workloads keep running: start the agent and try again");
        vertx.setTimer(LEAVE_REPLY_FLUSH_MS, t -> ctx.exitKeepingWorkloads(1));
        return;
      }
      forgetWork().onComplete(done -> {
        msg.reply(new JsonObject().put("node_id", nodeId).put("state", "deregistered"));
        vertx.setTimer(LEAVE_REPLY_FLUSH_MS, t -> exit(0, null));
      });
    });
  }

  /** After deregistering: stop and forget every assignment (waiting for the processes) and the pushed config. */
  private Future<Void> forgetWork() {
    Future<?> reset = vertx.eventBus().request(Addresses.WORKER_EXECUTOR_RESET, new JsonObject().put("await_idle", true),
            new io.vertx.core.eventbus.DeliveryOptions().setSendTimeout(LEAVE_STOP_WAIT_MS))
        .recover(e -> Future.succeededFuture()); // no built-in executor (external): nothing runs here
    return reset.compose(v -> vertx.executeBlocking(() -> {
      PushedConfig.forget(ctx.options().dataDir());
      return null;
    })).onFailure(e -> LOG.warn("while leaving: {}", e.toString())).<Void>mapEmpty().otherwiseEmpty();
  }

  @Override
  public Future<?> stop() {
    return session == null ? Future.succeededFuture() : session.stop();
  }
}
