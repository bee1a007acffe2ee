package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.agent.CaPin;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerKeys;
import java.io.PrintStream;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A fleet of simulated nodes in one JVM, each running the agent's own session, sharing a few
 * event loops. Phases, in order, each its own unit filling its part of the report: prepare keys
 * and CSRs (before the clock), warm-up ({@link WarmUp}), storm and connect ({@link StormPhase}),
 * hold, assignments ({@link AssignPhase}), ingest ({@link IngestPhase}), reconnect after a
 * controller restart ({@link ReconnectPhase}). Blocking: call {@link #run()} off any event loop.
 */
public final class Simulator {
  /** Who the fleet is and how it comes up. */
  public record Shape(List<HostPort> servers, int workers, double legacyFraction, double rampPerSec, int warmup,
                      int registerWindow, int connectWindow, int eventLoops, Duration connectTimeout) {
  }

  /** What the run does once the fleet is up; a zero skips a phase. */
  public record Phases(Duration hold, int assignments, Duration reportInterval, Duration ingestInterval,
                       Duration ingestDuration, Duration expectReconnect) {
  }

  /** What to run. */
  public record Settings(Shape shape, Phases phases, Duration progressInterval, PrintStream progress) {
    public static Settings defaults(List<HostPort> servers, int workers) {
      return new Settings(new Shape(servers, workers, 0, 0, 0, 256, 64,
          Math.max(2, Runtime.getRuntime().availableProcessors()), Duration.ofSeconds(Math.max(120, workers / 40))),
          new Phases(Duration.ofSeconds(30), 0, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO),
          Duration.ofSeconds(5), System.err);
    }
  }

  /** Bridge requests, blocking. */
  public interface Operator {
    JsonObject request(String address, JsonObject body) throws Exception;
  }

  /** What every phase works with. */
  record Run(Settings settings, Fleet fleet, Progress progress, Operator operator, List<FleetLoop> loops,
             List<SimNode> nodes, HostPort operatorServer) {
  }

  private static final long TOKEN_TTL_SECS = 6 * 3600;
  private static final Duration CA_DISCOVERY_TIMEOUT = Duration.ofSeconds(60); // a busy box, several simulators starting
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);

  private final Settings s;
  private final Operator operator;
  private boolean cryptoBaseline;
  private Progress.MetricsEndpoint metrics;
  private Barrier barrier = Barrier.NONE;
  private HostPort operatorServer;
  /** How long a process waits for the others at a barrier (the warm-up of process 0 included). */
  private static final Duration BARRIER_TIMEOUT = Duration.ofMinutes(30);

  public Simulator(Settings settings, Operator operator) {
    this.s = settings;
    this.operator = operator;
  }

  /**
   * Also measure the box's raw registration crypto ({@link CryptoBaseline}, in a JVM of its own)
   * just before the storm and again once the fleet has connected: the box's speed drifts over
   * minutes, and the storm's ratio is then taken against the two measurements around it.
   */
  /**
   * Where the controller's JSON counters are ({@code GET /v1/metrics} on its operator listener,
   * with the admin token): heartbeats absorbed, nodes unreachable, JIT activity. Without it the
   * run does not read them (figures that need them read 0).
   */
  public Simulator withMetrics(HostPort operatorHttp, String adminToken) {
    this.metrics = new Progress.MetricsEndpoint(operatorHttp, adminToken);
    return this;
  }

  /**
   * One of {@code parties} simulator processes driving one fleet together (see {@link Barrier}):
   * they meet in {@code dir} before each phase.
   */
  public Simulator withProcesses(java.nio.file.Path dir, int parties, int index) {
    this.barrier = new Barrier(dir, parties, index);
    return this;
  }

  /**
   * The worker address of the controller whose operator bridge makes the assignments: an
   * assignment to a node connected to another controller counts as cross-controller.
   */
  public Simulator withOperatorServer(HostPort workerAddr) {
    this.operatorServer = workerAddr;
    return this;
  }

  public Simulator withCryptoBaseline() {
    this.cryptoBaseline = true;
    return this;
  }

  public SimulationReport run() throws Exception {
    long t0 = System.nanoTime();
    Shape shape = s.shape();
    int n = shape.workers();
    int legacyN = (int) Math.round(n * Math.max(0, Math.min(1, shape.legacyFraction())));
    int grpcN = n - legacyN;
    Fleet fleet = new Fleet(s.progress());
    fleet.servers = shape.servers();
    fleet.grpcTarget = grpcN;
    fleet.legacyTarget = legacyN;
    fleet.connectPermits = new java.util.concurrent.Semaphore(shape.connectWindow());
    fleet.forcedIntervalMs = s.phases().reportInterval().toMillis();
    Progress progress = new Progress(fleet, n, s.phases().assignments(), s.progressInterval(), s.progress(), metrics);
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(shape.eventLoops()));
    HttpClientAgent legacyHttp = null;
    List<SimNode> nodes = new ArrayList<>(n);
    try {
      mintTokens(fleet, shape.servers(), Math.max(1, Math.min(shape.registerWindow(), n)), n);
      BootstrapToken token = BootstrapToken.decode(fleet.token);
      fleet.clusterId = token.clusterId();
      // The CA the token pins, checked as the agent checks it (it signed the controller's certificate).
      fleet.caPem = await(CaPin.discover(vertx, shape.servers().get(0), token.caSha256()), CA_DISCOVERY_TIMEOUT);
      progress.connectMetrics(vertx, fleet.caPem);

      long k0 = System.nanoTime();
      int warmN = Math.max(0, shape.warmup());
      KeyMaterial[] keys = keys(grpcN + warmN, Math.max(1, grpcN));
      double keygenSecs = (System.nanoTime() - k0) / 1e9;
      s.progress().printf("sim: prepared %d keys and CSRs in %.1f s; %d gRPC + %d legacy workers on %d event loops%n",
          grpcN, keygenSecs, grpcN, legacyN, shape.eventLoops());

      legacyHttp = legacyN == 0 ? null : legacyClient(vertx, fleet.caPem, legacyN);
      List<FleetLoop> loops = new ArrayList<>();
      for (int i = 0; i < shape.eventLoops(); i++) {
        FleetLoop loop = new FleetLoop(fleet, legacyHttp);
        await(vertx.deployVerticle(loop), Duration.ofSeconds(30));
        loops.add(loop);
      }
      for (int i = 0; i < n; i++) {
        boolean legacy = i >= grpcN;
        nodes.add(new SimNode(fleet, i, loops.get(i % loops.size()), legacy ? null : keys[i], legacy));
      }
      Run run = new Run(s, fleet, progress, operator, loops, nodes, operatorServer);
      // The controller's figures on each progress line, from before the warm-up: polling them from
      // the storm's start on was a code path the warm-up had not run, compiled during the storm.
      long metricsTimer = progress.pollMetricsPeriodically(vertx);
      if (warmN > 0) {
        progress.phase = "warm-up";
        new WarmUp(run, progress::metrics).run(Arrays.copyOfRange(keys, grpcN, grpcN + warmN),
            Duration.ofSeconds(Math.max(150, warmN / 50 + 120)), () -> barrier.await("burst", BARRIER_TIMEOUT, progress));
      }
      // Every process warms its own JIT; the crypto baseline is measured once all are done, on a box
      // no longer busy with anybody's warm-up.
      barrier.await("warmed", BARRIER_TIMEOUT, progress);
      double cryptoBefore = measureCrypto("just before the storm");

      barrier.await("storm", BARRIER_TIMEOUT, progress);
      StormPhase.Result storm = StormPhase.run(run, keygenSecs);
      barrier.await("connected", BARRIER_TIMEOUT, progress);
      double cryptoAfter = measureCrypto("after the fleet connected");
      barrier.await("hold", BARRIER_TIMEOUT, progress);

      progress.phase = "hold";
      s.progress().println("sim: all connected; holding for " + s.phases().hold().toSeconds() + " s");
      progress.sleep(s.phases().hold());

      barrier.await("assign", BARRIER_TIMEOUT, progress);
      AssignPhase.Result assigned = AssignPhase.run(run, s.phases().assignments());
      barrier.await("ingest", BARRIER_TIMEOUT, progress);
      IngestPhase.Result ingest = IngestPhase.run(run, s.phases().ingestInterval(), s.phases().ingestDuration(),
          s.phases().reportInterval());
      barrier.await("restart", BARRIER_TIMEOUT, progress);
      ReconnectPhase.Result reconnect = ReconnectPhase.run(run, s.phases().expectReconnect());

      vertx.cancelTimer(metricsTimer);
      progress.phase = "done";
      progress.print();
      SimulationReport.Counts counts = new SimulationReport.Counts(fleet.connected.get(), fleet.maxConnected.get(),
          fleet.registerErrors.sum(), fleet.connectFailures.sum(), fleet.streamDrops.sum(), fleet.otherErrors.sum(),
          fleet.reconnectDrops.sum(), fleet.reconnectConnectFailures.sum(), fleet.reportsSent.sum(), fleet.acks.sum(),
          (System.nanoTime() - t0) / 1e9, cryptoBefore, cryptoAfter);
      return new SimulationReport(storm, counts, assigned, ingest, reconnect);
    } finally {
      fleet.closing = true;
      nodes.forEach(SimNode::stop);
      // The held polls' connections first: closed by Vert.x's own shutdown, they would report to
      // event loops that have already stopped.
      try {
        if (legacyHttp != null) {
          await(legacyHttp.close(), Duration.ofSeconds(30));
        }
      } catch (Exception e) {
        s.progress().println("sim: closing the legacy client: " + describe(e));
      }
      try {
        await(vertx.close(), CLOSE_TIMEOUT);
      } catch (Exception e) {
        s.progress().println("sim: vertx close: " + describe(e));
      }
    }
  }

  /** One token per registration lane and controller (see {@link Fleet#laneTokens}). */
  private void mintTokens(Fleet fleet, List<HostPort> servers, int lanes, int uses) throws Exception {
    for (HostPort server : servers) {
      java.util.Queue<String> queue = new java.util.concurrent.ConcurrentLinkedQueue<>();
      for (int i = 0; i < lanes; i++) {
        JsonObject minted = operator.request(Addresses.OPERATOR_TOKEN_CREATE,
            new JsonObject().put("ttl_secs", TOKEN_TTL_SECS).put("uses", Math.max(1, uses)));
        queue.add(minted.getString("token"));
        fleet.token = minted.getString("token");
      }
      fleet.laneTokens.putIfAbsent(server, queue);
    }
  }

  /**
   * Keys and CSRs before the clock, on every core: on a real fleet every worker makes its own. The
   * names cycle through {@code names} (the fleet's size), so the warm-up's CSRs are as long as the
   * storm's: a hash that met a new length in the storm took a branch the warm-up never had, and
   * HotSpot recompiled the controller's CSR check during the measured storm.
   */
  private static KeyMaterial[] keys(int count, int names) throws Exception {
    KeyMaterial[] keys = new KeyMaterial[count];
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<java.util.concurrent.Future<?>> jobs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int lane = t;
        jobs.add(pool.submit(() -> {
          for (int i = lane; i < count; i += threads) {
            KeyPair pair = WorkerKeys.generateP256();
            keys[i] = new KeyMaterial(Pem.privateKeyToPem(pair.getPrivate()), WorkerKeys.createCsr(pair, "zlayer-sim-" + i % names));
          }
          return null;
        }));
      }
      for (var job : jobs) {
        job.get();
      }
    } finally {
      pool.shutdown();
    }
    return keys;
  }

  /** The legacy nodes' shared HTTP/1.1 client: one connection per outstanding request (held polls). */
  private static HttpClientAgent legacyClient(Vertx vertx, String caPem, int legacyN) {
    return vertx.createHttpClient(new HttpClientOptions().setSsl(true).setVerifyHost(false)
            .setKeepAlive(true).setConnectTimeout(10_000)
            .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem))),
        new PoolOptions().setHttp1MaxSize(Math.max(16, legacyN * 2 + 64)).setMaxWaitQueueSize(-1));
  }

  /** The box's raw registration crypto now (see {@link #withCryptoBaseline}); NaN when not asked for. */
  private double measureCrypto(String when) {
    if (!cryptoBaseline) {
      return Double.NaN;
    }
    double rate = CryptoBaseline.inChildProcess();
    s.progress().printf("sim: raw registration crypto %s: %.0f/s%n", when, rate);
    return rate;
  }

  static <T> T await(Future<T> f, Duration timeout) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof Exception ex ? ex : e;
    }
  }

  static String describe(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
  }
}
