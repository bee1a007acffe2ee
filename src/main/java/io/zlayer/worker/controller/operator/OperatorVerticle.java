package io.zlayer.worker.controller.operator;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import io.vertx.ext.bridge.BridgeOptions;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.BridgeGate;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.core.ControlPlaneException;
import io.zlayer.worker.controller.core.NodeOrders;
import io.zlayer.worker.controller.core.NodeRecord;
import io.zlayer.worker.controller.core.NodeService;
import io.zlayer.worker.controller.core.TokenService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator tooling: the consumers of the operator addresses and the loopback TCP event-bus
 * bridge that lets {@code bin/worker token create|nodes|assign|...} reach them. The bridge
 * permits only the operator addresses, and only frames carrying the admin token. Each consumer
 * decodes, calls the node service (or the node orders, the tokens), and encodes or maps a refusal.
 */
public final class OperatorVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(OperatorVerticle.class);
  private static final String LOOPBACK = "127.0.0.1";
  private static final long DEFAULT_DRAIN_DEADLINE_SECS = 600;

  private final NodeService nodes;
  private final NodeOrders orders;
  private final TokenService tokens;
  private final NodeViews views;
  private final ControllerOptions options;
  private final String adminToken;
  private final java.util.function.Supplier<Future<JsonArray>> controllers;
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private TcpEventBusBridge bridge;

  public OperatorVerticle(NodeService nodes, NodeOrders orders, TokenService tokens, NodeViews views,
                          ControllerOptions options, String adminToken,
                          java.util.function.Supplier<Future<JsonArray>> controllers) {
    this.controllers = controllers;
    this.nodes = nodes;
    this.orders = orders;
    this.tokens = tokens;
    this.views = views;
    this.options = options;
    this.adminToken = adminToken;
  }

  @Override
  public Future<?> start() {
    consume(Addresses.OPERATOR_TOKEN_CREATE, this::createToken);
    consume(Addresses.OPERATOR_NODES_LIST, body -> Future.succeededFuture(new JsonObject().put("nodes", views.all())));
    consume(Addresses.OPERATOR_ASSIGN, this::assign);
    consume(Addresses.OPERATOR_UNASSIGN, body -> orders.unassign(nodeId(body), requiredString(body, "service"))
        .map(rev -> new JsonObject().put("revision", rev)));
    consume(Addresses.OPERATOR_DRAIN, body -> nodes.drain(nodeId(body),
            body.getLong("deadline_secs", DEFAULT_DRAIN_DEADLINE_SECS))
        .map(cmd -> new JsonObject().put("command_id", cmd)));
    consume(Addresses.OPERATOR_UNDRAIN, body -> nodes.undrain(nodeId(body)).map(OperatorVerticle::stateReply));
    consume(Addresses.OPERATOR_SHUTDOWN, body -> orders.command(nodeId(body),
            Events.shutdown(body.getString("reason", "operator request")))
        .map(cmd -> new JsonObject().put("command_id", cmd)));
    consume(Addresses.OPERATOR_PUSH_CONFIG, body -> orders.command(nodeId(body),
            Events.pushConfig(body.getLong("version", 0L), requiredString(body, "yaml")))
        .map(cmd -> new JsonObject().put("command_id", cmd)));
    consume(Addresses.OPERATOR_REVOKE, body -> nodes.revoke(nodeId(body)).map(OperatorVerticle::stateReply));
    consume(Addresses.OPERATOR_DEREGISTER, body -> nodes.deregister(nodeId(body),
            body.getString("reason", "operator request"))
        .map(OperatorVerticle::stateReply));
    consume(Addresses.OPERATOR_GC, body -> nodes.collect(Duration.ZERO).map(ids ->
        new JsonObject().put("collected", ids.size()).put("node_ids", new JsonArray(ids))));
    consume(Addresses.OPERATOR_CONTROLLERS, body -> controllers.get().map(list -> new JsonObject().put("controllers", list)));
    return startBridge();
  }

  private static JsonObject stateReply(NodeRecord node) {
    return new JsonObject().put("node_id", node.nodeId()).put("state", node.state().wire());
  }

  private Future<?> startBridge() {
    BridgeOptions bridgeOptions = new BridgeOptions()
        .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.NODE_STATE_CHANGED));
    Addresses.OPERATOR_ADDRESSES.forEach(a -> bridgeOptions.addInboundPermitted(new PermittedOptions().setAddress(a)));
    bridge = TcpEventBusBridge.create(vertx, bridgeOptions, new NetServerOptions(),
        new BridgeGate("operator", Addresses.ADMIN_TOKEN_HEADER, adminToken));
    io.zlayer.worker.bus.BridgeFrameLimit.install(bridge, io.zlayer.worker.bus.BridgeFrameLimit.DEFAULT_MAX_FRAME_BYTES);
    return bridge.listen(options.bridgePort(), LOOPBACK)
        .recover(io.zlayer.worker.config.AddressInUse.explain("bridge_port", LOOPBACK + ":" + options.bridgePort()))
        .onSuccess(b ->
        LOG.info("operator bridge listening on {}:{} (admin token in {})", LOOPBACK, options.bridgePort(),
            options.dataDir().resolve("admin.token")));
  }

  private void consume(String address, Function<JsonObject, Future<JsonObject>> handler) {
    consumers.add(vertx.eventBus().<JsonObject>consumer(address, msg -> {
      Future<JsonObject> result;
      try {
        JsonObject body = msg.body() == null ? new JsonObject() : msg.body();
        OperatorRequests.validate(address, body);
        result = handler.apply(body);
      } catch (RuntimeException e) {
        result = Future.failedFuture(e);
      }
      result.onSuccess(msg::reply).onFailure(e -> fail(msg, e));
    }));
  }

  private static void fail(Message<JsonObject> msg, Throwable e) {
    ControlPlaneException refusal = ControlPlaneException.of(e instanceof ClassCastException
        ? ControlPlaneException.invalidArgument("a field has the wrong type") : e);
    if (refusal.kind() == ControlPlaneException.Kind.INTERNAL) {
      LOG.error("operator request to {} failed", msg.address(), e);
    }
    msg.fail(refusal.kind().http, refusal.getMessage());
  }

  private Future<JsonObject> createToken(JsonObject body) {
    long ttl = body.getLong("ttl_secs", TokenService.DEFAULT_TTL.toSeconds());
    int uses = body.getInteger("uses", 1);
    return tokens.mint(Duration.ofSeconds(ttl), uses).map(token -> {
      LOG.info("minted bootstrap token {} (expires at epoch {}, uses {})", token.tokenId(), token.expiresAt(), uses);
      return new JsonObject().put("token", token.encode()).put("token_id", token.tokenId())
          .put("expires_at", token.expiresAt());
    });
  }

  private Future<JsonObject> assign(JsonObject body) {
    String service = requiredString(body, "service");
    String command = requiredString(body, "command");
    JsonArray indices = body.getJsonArray("indices");
    if (indices == null || indices.isEmpty()) {
      throw ControlPlaneException.invalidArgument("indices must list at least one replica index");
    }
    for (Object i : indices) {
      if (!(i instanceof Number n) || n.longValue() < 0 || n.longValue() > Integer.MAX_VALUE) {
        throw ControlPlaneException.invalidArgument("indices must be non-negative integers, got " + i);
      }
    }
    JsonArray assignments = new JsonArray().add(new JsonObject()
        .put("role", body.getString("role", "default")).put("indices", indices));
    JsonObject spec = new JsonObject().put("command", command).put("env", body.getJsonObject("env", new JsonObject()));
    return orders.assign(nodeId(body), service, assignments, spec).map(rev -> new JsonObject().put("revision", rev));
  }

  private static long nodeId(JsonObject body) {
    Long id = body.getLong("node_id");
    if (id == null || id <= 0) {
      throw ControlPlaneException.invalidArgument("node_id must be a positive integer");
    }
    return id;
  }

  private static String requiredString(JsonObject body, String field) {
    String value = body.getString(field);
    if (value == null || value.isBlank()) {
      throw ControlPlaneException.invalidArgument(field + " is required");
    }
    return value;
  }

  @Override
  public Future<?> stop() {
    consumers.forEach(MessageConsumer::unregister);
    return bridge == null ? Future.succeededFuture() : bridge.close();
  }
}
