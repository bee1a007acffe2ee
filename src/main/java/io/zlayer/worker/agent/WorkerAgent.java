package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Deployable;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.ExecutorKind;
import io.zlayer.worker.config.WorkerOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running worker agent: deploys the executor, the bridge and the session (last, so the others
 * hear it come up). {@link #exit()} completes with the exit code when the process should end (a
 * Shutdown command: 0; a refusal of the node's identity: {@code Session.EXIT_REFUSED});
 * {@link #stop} deregisters first when asked to (SIGTERM, Ctrl-C).
 */
public final class WorkerAgent {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerAgent.class);
  private static final long DEREGISTER_WAIT_MS = 7000;

  private final Vertx vertx;
  private final AgentContext ctx;
  private final List<String> deployments = new ArrayList<>();
  private SessionVerticle session;

  private WorkerAgent(Vertx vertx, AgentContext ctx) {
    this.vertx = vertx;
    this.ctx = ctx;
  }

  public static Future<WorkerAgent> start(Vertx vertx, WorkerOptions options) {
    return WorkerState.load(vertx, options.dataDir()).compose(state -> {
      WorkerAgent agent = new WorkerAgent(vertx, new AgentContext(options, state));
      return agent.deploy().map(agent);
    });
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
      verticles.add(new ExecutorVerticle(ctx.options().dataDir()));
    }
    if (ctx.options().bridgePort() >= 0) {
      verticles.add(new WorkerBridgeVerticle(ctx));
    }
    session = new SessionVerticle(ctx);
    verticles.add(session);
    Future<Void> chain = Future.succeededFuture();
    for (Deployable v : verticles) {
      chain = chain.compose(x -> vertx.deployVerticle(v).onSuccess(deployments::add).mapEmpty());
      if (v instanceof ExecutorVerticle) {
        chain = chain.compose(x -> resumeFromExecutor());
      }
    }
    // A failed start cleans up before it reports, so nothing is left for the caller to undeploy.
    return chain.recover(e -> stop(false).transform(x -> Future.failedFuture(e)));
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

  /** Stops the agent; with {@code deregister}, leaves the cluster first (the identity is forgotten). */
  public Future<Void> stop(boolean deregister) {
    Future<?> first = deregister && session != null
        ? session.leave("worker stopped").timeout(DEREGISTER_WAIT_MS, TimeUnit.MILLISECONDS).otherwiseEmpty()
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
}
