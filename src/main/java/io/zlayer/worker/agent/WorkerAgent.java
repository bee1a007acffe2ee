package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Deployable;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.ExecutorKind;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.pki.SecureFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running worker agent: deploys the executor, the bridge and the session (last, so the others
 * hear it come up). {@link #exit()} completes with the exit code when the process should end (a
 * Shutdown command or {@code bin/worker leave}: 0; a refusal of the node's identity:
 * {@code Session.EXIT_REFUSED}); {@link #stop} stops it in one of the {@link StopMode}s.
 */
public final class WorkerAgent {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerAgent.class);
  private static final long DEREGISTER_WAIT_MS = 7000;

  /** How the agent stops. */
  public enum StopMode {
    /**
     * The agent only (SIGTERM of {@code bin/worker start}): the identity is kept, the node stays
     * registered (unreachable after its lease) and the workloads keep running for the next run to adopt.
     */
    DETACH,
    /** The agent and its workloads; the identity is kept and the node stays registered ({@code dev}'s Ctrl-C). */
    STOP_WORKLOADS,
    /** Leave the cluster: deregister, stop the workloads, delete the identity ({@code leave_on_terminate}). */
    LEAVE
  }

  private final Vertx vertx;
  private final AgentContext ctx;
  private final List<String> deployments = new ArrayList<>();
  private SessionVerticle session;
  private ExecutorVerticle executor;
  private ExternalExecutorFeed feed;

  private WorkerAgent(Vertx vertx, AgentContext ctx) {
    this.vertx = vertx;
    this.ctx = ctx;
  }

  public static Future<WorkerAgent> start(Vertx vertx, WorkerOptions options) {
    return vertx.executeBlocking(() -> {
      SecureFiles.createPrivateDirectories(options.dataDir()); // 0700: it holds the identity and tokens
      return null;
    }).compose(v -> WorkerState.load(vertx, options.dataDir())).compose(state -> {
      AgentContext ctx = new AgentContext(options, state);
      return vertx.executeBlocking(() -> PushedConfig.restore(ctx)).map(restored -> {
        restored.ifPresent(summary -> LOG.info("restored the pushed config from {}: {}",
            options.dataDir().resolve(PushedConfig.FILE), summary));
        return new WorkerAgent(vertx, ctx);
      });
    }).compose(agent -> agent.deploy().map(agent));
  }

  public AgentContext context() {
    return ctx;
  }

  /** Renews the node certificate now; completes with the node id. */
  public Future<Long> renewCertificate() {
    return session.renewCertificate();
  }

  /** Completes with the exit code when the agent should end (see the class comment). */
  public Future<Integer> exit() {
    return ctx.exit();
  }

  private Future<Void> deploy() {
    List<Deployable> verticles = new ArrayList<>();
    if (ctx.options().executor() == ExecutorKind.PROCESS) {
      executor = new ExecutorVerticle(ctx.options().dataDir());
      verticles.add(executor);
    } else {
      feed = new ExternalExecutorFeed(ctx.options().dataDir());
      verticles.add(feed);
    }
    if (ctx.options().bridgePort() >= 0) {
      verticles.add(new WorkerBridgeVerticle(ctx));
    }
    session = new SessionVerticle(ctx);
    verticles.add(session);
    Future<Void> chain = Future.succeededFuture();
    for (Deployable v : verticles) {
      chain = chain.compose(x -> vertx.deployVerticle(v).onSuccess(deployments::add).mapEmpty());
      if (v instanceof ExecutorVerticle || v instanceof ExternalExecutorFeed) {
        chain = chain.compose(x -> resumeFromExecutor());
      }
    }
    // A failed start cleans up before it reports, so nothing is left for the caller to undeploy.
    return chain.recover(e -> stop(StopMode.STOP_WORKLOADS).transform(x -> Future.failedFuture(e)));
  }

  /**
   * The worker received events the executor may not have stored yet (a kill -9 between the two
   * writes): resume from what the executor durably applied. Replayed events are idempotent.
   */
  private Future<Void> resumeFromExecutor() {
    return vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_APPLIED, new JsonObject()).compose(reply -> {
      long applied = reply.body().getLong("revision", 0L);
      if (applied < ctx.state().lastRevision()) {
        LOG.warn("the executor stored revision {} but the worker had received {}: replaying from {}", applied,
            ctx.state().lastRevision(), applied);
        return ctx.state().rewindRevision(applied);
      }
      return Future.succeededFuture();
    });
  }

  /** Stops the agent and its workloads; with {@code deregister}, leaves the cluster first (the identity is forgotten). */
  public Future<Void> stop(boolean deregister) {
    return stop(deregister ? StopMode.LEAVE : StopMode.STOP_WORKLOADS);
  }

  /** After {@link #exit()} completed: stops as the reason for the exit implies. */
  public Future<Void> stopAfterExit() {
    return stop(ctx.keepWorkloadsOnExit() ? StopMode.DETACH : StopMode.STOP_WORKLOADS);
  }

  /** Stops the agent (see {@link StopMode}). */
  public Future<Void> stop(StopMode mode) {
    if (executor != null) {
      executor.keepWorkloadsOnStop(mode == StopMode.DETACH);
    }
    if (mode == StopMode.DETACH) {
      LOG.info("stopping the agent only: node {} stays registered, its workloads keep running", ctx.nodeId());
    }
    Future<?> first = mode == StopMode.LEAVE && session != null
        ? session.leave("worker stopped").timeout(DEREGISTER_WAIT_MS, TimeUnit.MILLISECONDS).otherwiseEmpty()
            .compose(left -> Boolean.TRUE.equals(left) ? forgetAssignments() : Future.succeededFuture())
        : Future.succeededFuture();
    return first.compose(x -> {
      Future<Void> chain = Future.succeededFuture();
      for (int i = deployments.size() - 1; i >= 0; i--) {
        String id = deployments.get(i);
        chain = chain.eventually(() -> vertx.undeploy(id));
      }
      deployments.clear();
      return chain.onComplete(ar -> LOG.info("worker agent stopped"));
    });
  }

  /** The node left: the executor forgets (and stops) every assignment, the pushed config goes. */
  private Future<Void> forgetAssignments() {
    Future<?> reset = executor == null && feed == null ? Future.succeededFuture()
        : vertx.eventBus().request(Addresses.WORKER_EXECUTOR_RESET, new JsonObject()).otherwiseEmpty();
    return reset.compose(v -> vertx.executeBlocking(() -> {
      PushedConfig.forget(ctx.options().dataDir());
      return null;
    })).<Void>mapEmpty().otherwiseEmpty();
  }
}
