package io.zlayer.worker.controller.http;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.zlayer.worker.controller.core.ControlPlaneException;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodeGate;
import io.zlayer.worker.controller.core.NodePrincipal;
import io.zlayer.worker.controller.core.NodeService;
import io.zlayer.worker.controller.core.Registrar;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The legacy HTTP worker API on the controller's port (seed 001's shapes), for workers that
 * cannot speak gRPC: {@code POST /worker/register}, {@code /worker/poll} (long-poll held on the
 * event loop), {@code /worker/status}. It calls the same node service as the gRPC API; the
 * {@link NodeGate} proves the caller by its internal token.
 */
public final class LegacyApi {
  private static final Logger LOG = LoggerFactory.getLogger(LegacyApi.class);
  static final String TOKEN_HEADER = "X-ZLayer-Internal-Token";
  static final int MAX_BODY_BYTES = 64 * 1024;
  static final long DEFAULT_WAIT_SECS = 30;
  static final long MAX_WAIT_SECS = 60;
  static final String RETRY_AFTER_SECS = "5";

  private final Vertx vertx;
  private final NodeService nodes;
  private final NodeGate gate;
  private final PollHub<NodeEventLog.Entry> polls;
  private final String clusterId;

  public LegacyApi(Vertx vertx, NodeService nodes, NodeGate gate, PollHub<NodeEventLog.Entry> polls, String clusterId) {
    this.vertx = vertx;
    this.nodes = nodes;
    this.gate = gate;
    this.polls = polls;
    this.clusterId = clusterId;
  }

  public int heldPolls() {
    return polls.size();
  }

  public void mount(Router router) {
    router.route("/worker/*").handler(LegacyContentType::check);
    router.route("/worker/*").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES))
        .failureHandler(this::failed);
    router.post("/worker/register").handler(this::register);
    router.post("/worker/poll").handler(this::poll);
    router.post("/worker/status").handler(this::status);
    router.route("/worker/*").handler(rc -> error(rc, rc.request().method() == HttpMethod.POST ? 404 : 405,
        rc.request().method() == HttpMethod.POST ? "no such endpoint: " + rc.request().path()
            : rc.request().path() + " takes POST"));
  }

  private void register(RoutingContext rc) {
    JsonObject body = LegacyJson.body(rc);
    String token = LegacyJson.string(body, "token");
    long desired = LegacyJson.count(body, "desired_node_id", 0L);
    JsonObject profile = LegacyJson.object(body, "profile");
    nodes.register(new Registrar.Application(token, desired, profile, null, "http"))
        .onSuccess(admission -> rc.json(new JsonObject()
            .put("node_id", admission.node().nodeId())
            .put("cluster_id", clusterId)
            .put("heartbeat_ttl_secs", admission.ttlSecs())
            .put("heartbeat_grace_secs", admission.graceSecs())
            .put("internal_token", admission.internalToken())))
        .onFailure(e -> error(rc, e));
  }

  private void poll(RoutingContext rc) {
    String stopping = polls.leaving();
    if (stopping != null) {
      // Every poll, not only one that would be held: a poll answered at once by a stopping
      // controller told its worker the session was up, and the connection's close a moment later
      // then cost it a full backoff instead of the short steps of a controller leaving.
      leaving(rc, stopping);
      return;
    }
    JsonObject body = LegacyJson.body(rc);
    long nodeId = LegacyJson.count(body, "node_id", null);
    long lastRevision = LegacyJson.count(body, "last_revision", 0L);
    long waitSecs = Math.min(MAX_WAIT_SECS, LegacyJson.count(body, "max_wait_secs", DEFAULT_WAIT_SECS));
    answerOrHold(rc, principal(rc, nodeId), lastRevision, waitSecs);
  }

  /** Answers at once when events after {@code lastRevision} exist, else holds the poll. */
  private void answerOrHold(RoutingContext rc, NodePrincipal node, long lastRevision, long waitSecs) {
    // The revision is read before the events, so "nothing after R" is safe to answer as R.
    nodes.currentRevision()
        .compose(revision -> nodes.assignmentsAfter(node, lastRevision).map(entries -> {
          if (!entries.isEmpty() || waitSecs == 0) {
            answer(rc, entries, Math.max(lastRevision, entries.isEmpty() ? revision : entries.get(entries.size() - 1).revision()));
          } else {
            hold(rc, node, lastRevision, Math.max(lastRevision, revision), waitSecs);
          }
          return null;
        }))
        .onFailure(e -> error(rc, e));
  }

  private void hold(RoutingContext rc, NodePrincipal node, long lastRevision, long revision, long waitSecs) {
    if (rc.response().closed() || rc.response().ended()) {
      return;
    }
    long nodeId = node.nodeId();
    HeldPoll held = new HeldPoll(rc, nodeId, lastRevision, revision);
    switch (polls.hold(nodeId, held)) {
      case WAKE_NOW -> answerOrHold(rc, node, lastRevision, 0);
      case LEAVING -> leaving(rc, polls.leaving());
      case OVER_CAPACITY -> {
        rc.response().putHeader("Retry-After", RETRY_AFTER_SECS);
        error(rc, 503, "too many held polls (" + polls.size() + "); retry after " + RETRY_AFTER_SECS + " s");
      }
      case HELD -> {
        held.timer = vertx.setTimer(waitSecs * 1000, t -> {
          polls.release(nodeId, held);
          held.finish(() -> answer(rc, List.of(), revision));
        });
        // A client that gives up frees the poll at once.
        rc.response().closeHandler(v -> {
          vertx.cancelTimer(held.timer);
          polls.release(nodeId, held);
        });
      }
    }
  }

  /** One held poll and how it ends. */
  private final class HeldPoll implements PollHub.Waiter<NodeEventLog.Entry> {
    private final io.vertx.core.Context context = vertx.getOrCreateContext();
    private final RoutingContext rc;
    private final long nodeId;
    private final long lastRevision;
    private final long revision;
    private long timer = -1;
    private boolean done;

    HeldPoll(RoutingContext rc, long nodeId, long lastRevision, long revision) {
      this.rc = rc;
      this.nodeId = nodeId;
      this.lastRevision = lastRevision;
      this.revision = revision;
    }

    @Override
    public long lastRevision() {
      return lastRevision;
    }

    @Override
    public void wake(NodeEventLog.Entry event) {
      // No store read: the waking event is the answer (see PollHub.Waiter#wake).
      context.runOnContext(v -> finish(() -> answer(rc, List.of(event), event.revision())));
    }

    @Override
    public void supersede() {
      context.runOnContext(v -> finish(() -> answer(rc, List.of(), revision)));
    }

    @Override
    public void leaving(String reason) {
      context.runOnContext(v -> finish(() -> LegacyApi.leaving(rc, reason)));
    }

    void finish(Runnable how) {
      if (done) {
        return;
      }
      done = true;
      vertx.cancelTimer(timer);
      if (!rc.response().closed() && !rc.response().ended()) {
        how.run();
      }
    }
  }

  private void answer(RoutingContext rc, List<NodeEventLog.Entry> entries, long revision) {
    if (rc.response().closed() || rc.response().ended()) {
      return;
    }
    JsonArray events = new JsonArray();
    entries.forEach(e -> events.add(e.body().copy().put("revision", e.revision())));
    rc.json(new JsonObject().put("revision", revision).put("events", events));
  }

  /** A controller that stops answers a held poll 503 with why (see {@link io.zlayer.worker.bus.Leaving}). */
  private static void leaving(RoutingContext rc, String reason) {
    if (rc.response().ended() || rc.response().closed()) {
      return;
    }
    rc.response().setStatusCode(503).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", reason + "; poll another controller")
            .put("reason", io.zlayer.worker.bus.Leaving.LEGACY_REASON).encode());
  }

  private void status(RoutingContext rc) {
    JsonObject body = LegacyJson.body(rc);
    long nodeId = LegacyJson.count(body, "node_id", null);
    var report = LegacyJson.statusReport(body, nodeId);
    int ttl = nodes.heartbeat(principal(rc, nodeId), report);
    rc.json(new JsonObject().put("next_ttl_secs", ttl));
  }

  /** The legacy worker the request's internal token proves, acting as {@code nodeId}. */
  private NodePrincipal principal(RoutingContext rc, long nodeId) {
    return gate.internalToken(nodeId, rc.request().getHeader(TOKEN_HEADER));
  }

  private void failed(RoutingContext rc) {
    Throwable failure = rc.failure();
    if (failure instanceof io.vertx.core.http.HttpClosedException || rc.response().closed()) {
      return; // the peer went away mid-request (or was cut by a timeout): nobody to answer, nothing to log
    }
    if (failure != null && !(failure instanceof ControlPlaneException) && rc.statusCode() == 413) {
      error(rc, 413, "body larger than " + MAX_BODY_BYTES + " bytes");
    } else if (failure != null) {
      error(rc, failure);
    } else {
      int code = rc.statusCode();
      error(rc, code, code == 413 ? "body larger than " + MAX_BODY_BYTES + " bytes" : "request refused");
    }
  }

  private static void error(RoutingContext rc, Throwable failure) {
    ControlPlaneException refusal = ControlPlaneException.of(failure);
    if (refusal.kind() == ControlPlaneException.Kind.INTERNAL) {
      LOG.error("legacy API {} failed", rc.request().path(), failure);
    }
    error(rc, refusal.kind().http, refusal.getMessage());
  }

  private static void error(RoutingContext rc, int status, String message) {
    if (rc.response().ended() || rc.response().closed()) {
      return;
    }
    rc.response().setStatusCode(status).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", message).encode());
  }
}
