package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.cluster.ClusterCa;
import io.zlayer.worker.controller.cluster.ControllerRegistry;
import io.zlayer.worker.controller.cluster.NodeOwnership;
import io.zlayer.worker.controller.core.AdaptiveTtl;
import io.zlayer.worker.controller.core.LeaseDirectory;
import io.zlayer.worker.controller.core.NodeDirectory;
import io.zlayer.worker.controller.core.AssignmentFold;
import io.zlayer.worker.controller.core.CommandFold;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodeGate;
import io.zlayer.worker.controller.core.NodeOrders;
import io.zlayer.worker.controller.core.NodeService;
import io.zlayer.worker.controller.core.Registrar;
import io.zlayer.worker.controller.core.TokenService;
import io.zlayer.worker.controller.grpc.OpenStreams;
import io.zlayer.worker.controller.http.LegacyApi;
import io.zlayer.worker.controller.http.PollHub;
import io.zlayer.worker.controller.operator.NodeViews;
import io.zlayer.worker.controller.operator.OperatorHttp;
import io.zlayer.worker.controller.operator.PrometheusMetrics;
import io.zlayer.worker.controller.operator.OperatorVerticle;
import io.zlayer.worker.pki.SecureFiles;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.Stores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running controller: opens the store, establishes the cluster id, the worker CA and the
 * admin token, builds the {@link ControlPlane} and deploys its verticles. {@link #stop()}
 * releases all of it in reverse.
 */
public final class ControllerNode {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerNode.class);
  public static final String ADMIN_TOKEN_FILE = "admin.token";
  private static final String CLUSTER_ID_KEY = "meta/cluster_id";
  private static final long STORE_RETRY_FIRST_MS = 1000;
  private static final long STORE_RETRY_MAX_MS = 30_000;

  private final Vertx vertx;
  private final ControlPlane cp;
  private final List<String> deployments = new ArrayList<>();
  private final List<ControllerVerticle> endpoints = new java.util.concurrent.CopyOnWriteArrayList<>();
  private PrometheusMetrics metrics;
  private OperatorHttp operatorHttp;
  private volatile ControllerRegistry registry;
  private volatile NodeOwnership ownership;
  /**
   * Endpoint verticle instances sharing the port: one per core by default (each on its own event
   * loop; Vert.x hands each accepted connection to one of them). The system property
   * {@code zlayer.endpoints} overrides it. The "unanswered legacy request" once seen with two was
   * the test client's (a Vert.x 5.0.7 client race, see TwoEndpointHangTest), not the server's.
   */
  static final int ENDPOINT_INSTANCES = Math.max(1,
      Integer.getInteger("zlayer.endpoints", Runtime.getRuntime().availableProcessors()));

  private final int endpointInstances;

  private ControllerNode(Vertx vertx, ControlPlane cp, int endpointInstances) {
    this.vertx = vertx;
    this.cp = cp;
    this.endpointInstances = endpointInstances;
  }

  public ControlPlane controlPlane() {
    return cp;
  }

  /** The port the worker endpoint bound. */
  public int port() {
    return endpoints.get(0).actualPort();
  }

  /** The port the operator listener bound ({@code operator_http_addr}). */
  public int operatorPort() {
    return operatorHttp.actualPort();
  }

  public static Future<ControllerNode> start(Vertx vertx, ControllerOptions options) {
    return start(vertx, options, Clock.systemUTC(), ENDPOINT_INSTANCES);
  }

  /** As {@link #start(Vertx, ControllerOptions)}, with {@code endpointInstances} endpoint verticles sharing the port. */
  public static Future<ControllerNode> start(Vertx vertx, ControllerOptions options, int endpointInstances) {
    return start(vertx, options, Clock.systemUTC(), endpointInstances);
  }

  /** As {@link #start(Vertx, ControllerOptions)}, with the clock that decides leases, gc and certificate expiry. */
  public static Future<ControllerNode> start(Vertx vertx, ControllerOptions options, Clock clock) {
    return start(vertx, options, clock, ENDPOINT_INSTANCES);
  }

  private static Future<ControllerNode> start(Vertx vertx, ControllerOptions options, Clock clock, int endpointInstances) {
    if (endpointInstances < 1) {
      return Future.failedFuture(new IllegalArgumentException("endpointInstances must be at least 1"));
    }
    // peers has no role: controllers find each other through the store (etcd), not a static list.
    if (!options.labels().isEmpty()) {
      // A key of the shared worker-tier schema that a controller does not use: say so once.
      LOG.warn("config key labels is not used by a controller; ignored");
    }
    return openStore(vertx, options, STORE_RETRY_FIRST_MS)
        .compose(store -> clusterId(store).compose(clusterId -> vertx.executeBlocking(() -> {
          io.zlayer.worker.store.StoreFiles.privateDirectory(options.dataDir());
          return clusterId;
        })).compose(clusterId -> ClusterCa.loadOrCreate(vertx, store, options.workerCaDir(), clusterId, clock)
            .compose(ca -> vertx.executeBlocking(() -> {
              ServerIdentity identity = ca.issueServerIdentity(options.tlsNames());
              String adminToken = adminToken(options.dataDir());
              return build(vertx, options, clock, store, clusterId, ca, identity, adminToken);
            }))).compose(cp -> cp.store().revision().compose(loadedAt -> cp.nodes().load().map(n -> {
              if (cp.store() instanceof io.zlayer.worker.store.etcd.EtcdStore) {
                // Other controllers change node records too: follow them from the load on.
                cp.nodes().follow(loadedAt, cp.nodeService()::changedElsewhere);
              }
              return cp;
            })))
            .onFailure(e -> store.close()))
        .compose(cp -> cp.assignments().currentRevision().map(revision -> {
          // Every assignment event wakes the node's held legacy poll, whichever event loop holds it.
          cp.assignments().watchAll(revision, (nodeId, entry) -> cp.polls().event(nodeId, entry.revision(), entry));
          return cp;
        }))
        .compose(cp -> {
          if (!(cp.store() instanceof io.zlayer.worker.store.etcd.EtcdStore)) {
            // Alone on its store, a controller holds every node: after a start nobody expires while
            // workers reconnect. With several, the leader adopts the nodes nobody holds (NodeOwnership).
            cp.nodeService().grantFailoverLeases();
          }
          ControllerNode node = new ControllerNode(vertx, cp, endpointInstances);
          return node.deploy().compose(v -> node.joinCluster()).map(node);
        });
  }

  /**
   * Opens the store; an unreachable one (etcd down) is retried with backoff (1 s doubling to 30 s)
   * rather than ending the start, so controllers and etcd may come up in any order.
   */
  private static Future<Store> openStore(Vertx vertx, ControllerOptions options, long delayMs) {
    io.zlayer.worker.controller.operator.StartingProbe[] probe = {null};
    return openStore(vertx, options, delayMs, probe)
        .transform(ar -> (probe[0] == null ? Future.<Void>succeededFuture() : probe[0].close())
            .transform(x -> ar.succeeded() ? Future.succeededFuture(ar.result()) : Future.failedFuture(ar.cause())));
  }

  /** One attempt; while the store is unreachable, {@code /readyz} answers 503 with why ({@code probe}). */
  private static Future<Store> openStore(Vertx vertx, ControllerOptions options, long delayMs,
                                         io.zlayer.worker.controller.operator.StartingProbe[] probe) {
    return Stores.open(vertx, options.store(), options.dataDir().resolve("store")).recover(e -> {
      if (!(e instanceof io.zlayer.worker.store.StoreUnavailableException)) {
        return Future.failedFuture(e);
      }
      String reason = "the cluster state store is unreachable (" + e.getMessage() + "); retrying in " + delayMs + " ms";
      LOG.warn(reason); // one line per attempt, no stack trace
      if (probe[0] == null) {
        probe[0] = io.zlayer.worker.controller.operator.StartingProbe.open(vertx, options.operatorHttpAddr(), reason);
      } else {
        probe[0].reason(reason);
      }
      return Future.<Void>future(p -> vertx.setTimer(delayMs, t -> p.complete()))
          .compose(v -> openStore(vertx, options, Math.min(delayMs * 2, STORE_RETRY_MAX_MS), probe));
    });
  }

  /**
   * Registers this controller with the others (etcd) once its ports are bound, so its entry names
   * real addresses; a refusal (node_id taken) stops what was started.
   */
  private Future<Void> joinCluster() {
    ControllerOptions o = cp.options();
    ControllerRegistry.Self self = new ControllerRegistry.Self(o.nodeId(),
        o.workerGrpcAddr().host() + ":" + port(), o.operatorHttpAddr().host() + ":" + operatorPort());
    return ControllerRegistry.join(vertx, cp.store(), self).compose(r -> {
      registry = r;
      if (cp.store() instanceof io.zlayer.worker.store.etcd.EtcdStore etcd) {
        ownership = new NodeOwnership(etcd, r, cp.leases(), cp.nodes(), cp.clock());
        // Each live controller proposes new node ids in its own residue class (NodeDirectory).
        return r.followMembers(live -> cp.nodes().liveControllers(live, o.nodeId()))
            .compose(v -> ownership.start());
      }
      return Future.<Void>succeededFuture();
    }).recover(e -> stop().transform(x -> Future.failedFuture(e)));
  }

  /** The cluster's controllers (see {@link ControllerRegistry#list}). */
  public Future<io.vertx.core.json.JsonArray> controllers() {
    ControllerRegistry r = registry;
    return r == null ? Future.failedFuture(new io.zlayer.worker.controller.core.ControlPlaneException(
        io.zlayer.worker.controller.core.ControlPlaneException.Kind.UNAVAILABLE, "the controller is still starting"))
        : r.list();
  }

  /** Which nodes this controller owns in etcd; null until started, and on the embedded store. */
  public NodeOwnership ownership() {
    return ownership;
  }

  /** This controller's entry among the cluster's controllers; null until started. */
  public ControllerRegistry registry() {
    return registry;
  }

  private static ControlPlane build(Vertx vertx, ControllerOptions options, Clock clock, Store store,
                                    String clusterId, WorkerCa ca, ServerIdentity identity, String adminToken) {
    AdaptiveTtl ttl = AdaptiveTtl.of(options.heartbeat());
    NodeDirectory nodes = new NodeDirectory(store, clock);
    LeaseDirectory leases = new LeaseDirectory(ttl);
    TokenService tokens = new TokenService(store, clusterId, ca.caSha256(), clock);
    Registrar registrar = new Registrar(vertx, store, tokens, ca, nodes, leases,
        options.workerCertValidity(), clock);
    NodeEventLog assignments = new NodeEventLog(store, "assignment-log", AssignmentFold.INSTANCE, options.historyWindow());
    NodeEventLog commands = new NodeEventLog(store, "command-log", CommandFold.INSTANCE, options.historyWindow());
    NodeService service = new NodeService(nodes, leases, registrar, assignments, commands, (nodeId, state, cause) ->
        vertx.eventBus().publish(Addresses.NODE_STATE_CHANGED, new JsonObject().put("node_id", nodeId)
            .put("state", state.wire()).put("cause", cause)), clock);
    OpenStreams streams = new OpenStreams();
    PollHub<NodeEventLog.Entry> polls = new PollHub<>(options.connections().maxHeldPolls());
    // A node that leaves loses its open streams and its held poll at once.
    service.onLeave(streams::cut);
    service.onLeave(polls::forget);
    nodes.onCollected(polls::forget);
    return new ControlPlane(vertx, options, clusterId, store, ca, identity, adminToken, tokens, nodes, leases,
        registrar, service, new NodeGate(clusterId, nodes, service, clock),
        new NodeOrders(service, nodes, assignments, commands), assignments, commands, polls, streams,
        io.zlayer.worker.pki.TlsTickets.of(ca, clock), clock);
  }

  /** The cluster's id: created once, by whichever controller first starts on the store. */
  private static Future<String> clusterId(Store store) {
    return store.get(CLUSTER_ID_KEY).compose(found -> {
      if (found.isPresent()) {
        return Future.succeededFuture(new JsonObject(found.get().value()).getString("cluster_id"));
      }
      byte[] random = new byte[8];
      new SecureRandom().nextBytes(random);
      String id = "c" + HexFormat.of().formatHex(random);
      return store.txn(List.of(Compare.absent(CLUSTER_ID_KEY)),
              List.of(Op.put(CLUSTER_ID_KEY, new JsonObject().put("cluster_id", id).encode())))
          .compose(result -> result.succeeded() ? Future.succeededFuture(id) : clusterId(store));
    });
  }

  /** Reads {@code <data_dir>/admin.token}, creating it (mode 0600) on first start. Blocking. */
  private static String adminToken(Path dataDir) throws java.io.IOException {
    Path file = dataDir.resolve(ADMIN_TOKEN_FILE);
    if (Files.exists(file)) {
      return SecureFiles.readPrivate(file).trim();
    }
    byte[] random = new byte[32];
    new SecureRandom().nextBytes(random);
    String token = HexFormat.of().formatHex(random);
    SecureFiles.writePrivate(file, token + "\n");
    return token;
  }

  private Future<Void> deploy() {
    java.util.function.Supplier<io.vertx.core.Deployable> endpoint = () -> {
      ControllerVerticle v = new ControllerVerticle(cp);
      endpoints.add(v);
      return v;
    };
    return vertx.deployVerticle(new OperatorVerticle(cp.nodeService(), cp.orders(), cp.tokens(),
            new NodeViews(cp.nodes(), cp.leases()), cp.options(), cp.adminToken(), this::controllers)).onSuccess(deployments::add)
        .compose(id -> vertx.deployVerticle(new LeaseSweeperVerticle(cp.nodeService(),
            cp.options().nodeGcThreshold())).onSuccess(deployments::add))
        .compose(id -> vertx.deployVerticle(endpoint, new io.vertx.core.DeploymentOptions().setInstances(endpointInstances))
            .onSuccess(deployments::add))
        .compose(id -> {
          metrics = ControllerMeters.register(PrometheusMetrics.create(), cp);
          operatorHttp = new OperatorHttp(new OperatorHttp.Sources(cp.options().operatorHttpAddr(), cp.adminToken(),
              cp.clusterId(), cp.serverIdentity(), metrics,
              () -> Metrics.snapshot(cp).put("legacy_polls_held", cp.polls().size()),
              () -> ControllerMeters.ready(cp, endpoints.size() == endpointInstances), id2 -> ControllerMeters.events(cp, id2),
              cp.clock()));
          return vertx.deployVerticle(operatorHttp).onSuccess(deployments::add);
        })
        .<Void>mapEmpty()
        .recover(e -> stop().transform(x -> Future.failedFuture(e)));
  }

  /** How long a stopping controller's worker connections may take to close after its goodbye. */
  static final long DRAIN_GRACE_MS = 1000;
  /** How long a stopping controller still answers new legacy polls 503 with its reason. */
  static final long LEGACY_LINGER_MS = 300;

  /**
   * A graceful stop (SIGTERM): first tells the workers why ({@link #drain}), so they move to
   * another controller at once; then leaves the cluster (its etcd lease revoked: nodes that did
   * not move are given the failover TTL by the leader), undeploys and closes the store.
   */
  public Future<Void> stop() {
    return drain().eventually(this::release);
  }

  /**
   * Tells every connected worker that this controller is leaving: watch streams end with
   * {@code UNAVAILABLE} "controller shutting down", their connections get GOAWAY, held legacy
   * polls are answered 503 with the reason, and new streams and polls are refused with it. Bounded
   * by {@link #DRAIN_GRACE_MS}.
   */
  private Future<Void> drain() {
    int connections = cp.streams().connections();
    int polls = cp.polls().size();
    if (connections > 0 || polls > 0) {
      LOG.info("controller stopping: telling {} worker connection(s) and {} held poll(s) to move to another controller",
          connections, polls);
    }
    long t0 = System.nanoTime();
    cp.polls().drain(io.zlayer.worker.bus.Leaving.REASON);
    // A legacy worker between two polls (its answer just taken, the next one not yet sent) holds no
    // poll to answer: the endpoint stays up a moment longer so that its next poll hears why too,
    // instead of finding the connection closed.
    Future<Void> lingered = cp.vertx().timer(LEGACY_LINGER_MS).mapEmpty();
    Future<Void> streamsDone = cp.streams().drain(io.zlayer.worker.bus.Leaving.REASON, DRAIN_GRACE_MS)
        .timeout(DRAIN_GRACE_MS + 500, java.util.concurrent.TimeUnit.MILLISECONDS)
        .otherwiseEmpty();
    return Future.join(streamsDone, lingered).<Void>mapEmpty().otherwiseEmpty()
        .onComplete(ar -> {
          if (connections > 0) {
            LOG.info("worker connections closed in {} ms", (System.nanoTime() - t0) / 1_000_000);
          }
        });
  }

  private Future<Void> release() {
    NodeOwnership owned = ownership;
    ownership = null;
    ControllerRegistry r = registry;
    registry = null;
    Future<Void> chain = owned == null ? Future.succeededFuture() : owned.stop();
    if (r != null) {
      chain = chain.eventually(r::close);
    }
    for (int i = deployments.size() - 1; i >= 0; i--) {
      String id = deployments.get(i);
      chain = chain.eventually(() -> vertx.undeploy(id));
    }
    deployments.clear();
    return chain.eventually(() -> cp.store().close()).onComplete(ar -> {
      if (metrics != null) {
        metrics.close();
      }
      LOG.info("controller stopped");
    });
  }
}
