package io.zlayer.worker.controller.operator;

import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.ServerIdentity;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator listener ({@code operator_http_addr}, default {@code 127.0.0.1:3673}): Prometheus
 * {@code /metrics}, {@code /healthz}, {@code /readyz}, the {@code /v1} JSON API and the web console
 * under {@code /ui/}. Plain HTTP on loopback, TLS with the controller's certificate elsewhere.
 *
 * <p>{@code /v1} is one more adapter over the operator requests the bridge carries: an action is
 * the same event-bus request as {@code bin/worker drain} sends, so validation and the node rules
 * stay in one place. Every {@code /v1} call needs {@code Authorization: Bearer <admin token>}.
 */
public final class OperatorHttp extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(OperatorHttp.class);
  static final long MAX_BODY_BYTES = 64 * 1024;
  static final Duration EVENT_KEEPALIVE = Duration.ofSeconds(15);
  static final Duration BUS_TIMEOUT = Duration.ofSeconds(15);
  private static final String BEARER = "Bearer ";
  /** The node actions of {@code POST /v1/nodes/:id/<action>} and the operator address each sends to. */
  private static final Map<String, String> ACTIONS = Map.of(
      "drain", Addresses.OPERATOR_DRAIN,
      "undrain", "zlayer.operator.undrain",
      "revoke", Addresses.OPERATOR_REVOKE,
      "deregister", Addresses.OPERATOR_DEREGISTER,
      "assign", Addresses.OPERATOR_ASSIGN,
      "unassign", Addresses.OPERATOR_UNASSIGN,
      "shutdown", Addresses.OPERATOR_SHUTDOWN);

  /**
   * What the listener reads: where to bind, the admin token, the TLS identity for a non-loopback
   * bind, the registry, the JSON counters, readiness, and a node's recent events.
   */
  public record Sources(HostPort addr, String adminToken, String clusterId, ServerIdentity tls,
                        PrometheusMetrics metrics, Supplier<JsonObject> jsonMetrics,
                        Supplier<Future<Void>> ready, LongFunction<Future<JsonObject>> nodeEvents,
                        java.time.Clock clock) {
  }

  private final Sources sources;
  private final byte[] adminToken;
  private HttpServer server;

  public OperatorHttp(Sources sources) {
    this.sources = sources;
    this.adminToken = sources.adminToken().getBytes(StandardCharsets.UTF_8);
  }

  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    HostPort addr = sources.addr();
    boolean tls = !addr.loopback();
    HttpServerOptions options = new HttpServerOptions().setMaxInitialLineLength(8192).setMaxHeaderSize(16 * 1024);
    if (tls) {
      options.setSsl(true).setKeyCertOptions(new PemKeyCertOptions()
          .setKeyValue(Buffer.buffer(sources.tls().keyPem()))
          .setCertValue(Buffer.buffer(sources.tls().certChainPem())));
    }
    server = vertx.createHttpServer(options).requestHandler(routes());
    return server.listen(addr.port(), addr.host())
        .recover(io.zlayer.worker.config.AddressInUse.explain("operator_http_addr", addr))
        .onSuccess(s -> LOG.info("operator HTTP on {}://{}:{} (/metrics, /readyz, /v1, /ui/)",
            tls ? "https" : "http", addr.host(), s.actualPort()));
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private Router routes() {
    Router router = Router.router(vertx);
    router.get("/metrics").handler(rc -> rc.response()
        .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .end(sources.metrics().scrape()));
    router.get("/healthz").handler(rc -> rc.json(new JsonObject().put("status", "ok")));
    router.get("/readyz").handler(rc -> sources.ready().get()
        .onSuccess(v -> rc.json(new JsonObject().put("status", "ready")))
        .onFailure(e -> error(rc, 503, "not ready: " + e.getMessage())));
    router.get("/").handler(rc -> rc.redirect("/ui/"));
    router.route("/ui/*").handler(StaticHandler.create("webroot/ui").setCachingEnabled(false)
        .setDefaultContentEncoding("UTF-8"));

    router.route("/v1/*").handler(this::authenticate);
    router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
    router.get("/v1/metrics").handler(rc -> rc.json(sources.jsonMetrics().get()));
    router.get("/v1/nodes").handler(rc -> request(Addresses.OPERATOR_NODES_LIST, new JsonObject())
        .onSuccess(reply -> rc.json(reply.put("cluster_id", sources.clusterId())))
        .onFailure(e -> fail(rc, e)));
    router.get("/v1/nodes/:id").handler(this::node);
    router.get("/v1/controllers").handler(rc -> request(Addresses.OPERATOR_CONTROLLERS, new JsonObject())
        .onSuccess(reply -> rc.json(reply.put("cluster_id", sources.clusterId())))
        .onFailure(e -> fail(rc, e)));
    router.post("/v1/nodes/:id/:action").handler(this::action);
    router.post("/v1/tokens").handler(rc -> body(rc).map(b -> request(Addresses.OPERATOR_TOKEN_CREATE, b)
        .onSuccess(reply -> rc.response().setStatusCode(201).putHeader("content-type", "application/json")
            .end(reply.encode()))
        .onFailure(e -> fail(rc, e))));
    router.get("/v1/events").handler(this::events);
    router.route("/v1/*").handler(rc -> error(rc, 404, "no such API: " + rc.request().method() + " " + rc.request().path()));
    router.route().failureHandler(rc -> {
      int status = rc.statusCode() > 0 ? rc.statusCode() : 500;
      if (status >= 500) {
        LOG.warn("operator HTTP {} {} failed: {}", rc.request().method(), rc.request().path(),
            rc.failure() == null ? status : rc.failure().toString());
      }
      error(rc, status, status == 413 ? "body over " + MAX_BODY_BYTES + " bytes" : status >= 500 ? "internal error"
          : "bad request");
    });
    return router;
  }

  private void authenticate(RoutingContext rc) {
    String header = rc.request().getHeader("authorization");
    if (header == null || !header.startsWith(BEARER)) {
      error(rc, 401, "missing admin token: send Authorization: Bearer <contents of <data_dir>/admin.token>");
      return;
    }
    byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(given, adminToken)) {
      error(rc, 401, "wrong admin token");
      return;
    }
    rc.next();
  }

  private void node(RoutingContext rc) {
    Long id = nodeId(rc);
    if (id == null) {
      return;
    }
    request(Addresses.OPERATOR_NODES_LIST, new JsonObject()).compose(reply -> {
      JsonObject view = null;
      for (Object o : reply.getJsonArray("nodes", new JsonArray())) {
        if (o instanceof JsonObject n && n.getLong("node_id", -1L) == id) {
          view = n;
        }
      }
      if (view == null) {
        return Future.failedFuture(new ReplyException(io.vertx.core.eventbus.ReplyFailure.RECIPIENT_FAILURE, 404,
            "node " + id + " is not registered"));
      }
      String heartbeat = view.getString("last_heartbeat");
      if (heartbeat != null) {
        view.put("lease_age_secs", Duration.between(Instant.parse(heartbeat), sources.clock().instant()).toSeconds());
      }
      JsonObject found = view;
      return sources.nodeEvents().apply(id).map(events -> new JsonObject().put("node", found).put("events", events));
    }).onSuccess(rc::json).onFailure(e -> fail(rc, e));
  }

  private void action(RoutingContext rc) {
    Long id = nodeId(rc);
    if (id == null) {
      return;
    }
    String address = ACTIONS.get(rc.pathParam("action"));
    if (address == null) {
      error(rc, 404, "no such action: " + rc.pathParam("action") + " (actions: " + String.join(", ", ACTIONS.keySet()) + ")");
      return;
    }
    body(rc).map(b -> request(address, b.put("node_id", id)).onSuccess(rc::json).onFailure(e -> fail(rc, e)));
  }

  /** Server-sent events: {@code event: node} with {@code {node_id, state, cause}} on each state change. */
  private void events(RoutingContext rc) {
    var response = rc.response().setChunked(true)
        .putHeader("content-type", "text/event-stream; charset=utf-8")
        .putHeader("cache-control", "no-cache")
        .putHeader("x-accel-buffering", "no");
    response.write(": zlayer-worker events\nretry: 2000\n\n");
    MessageConsumer<JsonObject> consumer = vertx.eventBus().consumer(Addresses.NODE_STATE_CHANGED,
        msg -> response.write("event: node\ndata: " + msg.body().encode() + "\n\n"));
    long keepalive = vertx.setPeriodic(EVENT_KEEPALIVE.toMillis(), t -> response.write(": keepalive\n\n"));
    rc.request().connection().closeHandler(v -> {
      consumer.unregister();
      vertx.cancelTimer(keepalive);
    });
    response.closeHandler(v -> {
      consumer.unregister();
      vertx.cancelTimer(keepalive);
    });
  }

  private Future<JsonObject> request(String address, JsonObject body) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(BUS_TIMEOUT.toMillis())
        .addHeader(Addresses.ADMIN_TOKEN_HEADER, sources.adminToken());
    return vertx.eventBus().<JsonObject>request(address, body, options).map(m -> m.body());
  }

  /** The request's JSON object body ({@code {}} when empty); answers 400 and fails otherwise. */
  private static Future<JsonObject> body(RoutingContext rc) {
    Buffer raw = rc.body().buffer();
    if (raw == null || raw.length() == 0) {
      return Future.succeededFuture(new JsonObject());
    }
    try {
      Object parsed = raw.toJsonValue();
      if (parsed instanceof JsonObject json) {
        return Future.succeededFuture(json);
      }
      error(rc, 400, "body: expected a JSON object");
    } catch (DecodeException e) {
      error(rc, 400, "body: not valid JSON");
    }
    return Future.failedFuture("bad body");
  }

  private static Long nodeId(RoutingContext rc) {
    String raw = rc.pathParam("id");
    try {
      long id = Long.parseLong(raw);
      if (id > 0) {
        return id;
      }
    } catch (NumberFormatException ignored) {
      // answered below
    }
    error(rc, 400, "node id: expected a positive integer, got " + (raw.length() > 32 ? raw.substring(0, 32) + "..." : raw));
    return null;
  }

  private static void fail(RoutingContext rc, Throwable e) {
    if (e instanceof ReplyException reply) {
      int code = reply.failureCode();
      int status = code >= 400 && code < 600 ? code : 503;
      error(rc, status, reply.getMessage() == null ? "refused" : reply.getMessage());
    } else {
      LOG.warn("operator HTTP {} {} failed: {}", rc.request().method(), rc.request().path(), e.toString());
      error(rc, 500, "internal error");
    }
  }

  static void error(RoutingContext rc, int status, String message) {
    if (rc.response().ended() || rc.response().headWritten()) {
      return;
    }
    rc.response().setStatusCode(status).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", message).encode());
  }

}
