package io.zlayer.worker.sim;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.AssignmentEvent;
import java.io.PrintStream;
import java.security.KeyPair;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * A fleet of simulated workers in one JVM, sharing a few event loops. Phases, in order: prepare
 * keys and CSRs (before the clock), register + connect (progress lines), hold for
 * {@code duration}, make {@code assignments} through the operator bridge and time their delivery,
 * optionally force a report interval to measure ingest, optionally wait for the controller to be
 * killed and restarted and time the fleet's return. Blocking: call {@link #run()} off any event loop.
 */
public final class Simulator {
  /** What to run. {@code operator} mints the token and makes assignments. */
  public record Settings(List<HostPort> servers, int workers, double rampPerSec, Duration duration,
                         double legacyFraction, int assignments, Duration reportInterval,
                         Duration ingestInterval, Duration ingestDuration, Duration expectReconnect,
                         Duration connectTimeout, int registerWindow, int connectWindow, int eventLoops,
                         Duration progressInterval, PrintStream progress, int warmup) {
    public static Settings defaults(List<HostPort> servers, int workers) {
      return new Settings(servers, workers, 0, Duration.ofSeconds(30), 0, 0, Duration.ZERO, Duration.ZERO,
          Duration.ZERO, Duration.ZERO, Duration.ofSeconds(Math.max(120, workers / 40)), 256, 64,
          Math.max(2, Runtime.getRuntime().availableProcessors()), Duration.ofSeconds(5), System.err, 0);
    }
  }

  /** Bridge requests, blocking. */
  public interface Operator {
    JsonObject request(String address, JsonObject body) throws Exception;
  }

  private final Settings s;
  private final Operator operator;
  private final Fleet fleet = new Fleet();

  public Simulator(Settings settings, Operator operator) {
    this.s = settings;
    this.operator = operator;
  }

  private boolean cryptoBaseline;

  /**
   * Also measure the box's raw registration crypto ({@link CryptoBaseline}, in a JVM of its own)
   * just before the storm and again once the fleet has connected: the box's speed drifts over
   * minutes, and the storm's ratio is then taken against the two measurements around it.
   */
  public Simulator withCryptoBaseline() {
    this.cryptoBaseline = true;
    return this;
  }

  /** Shared state of the fleet; counters are touched from every event loop. */
  static final class Fleet {
    volatile String token;
    /** One token per registration lane: a multi-use token is redeemed by compare-and-set on its record,
     * so concurrent registrations through one token conflict (see BENCHMARKS.md); a lane's are sequential. */
    final java.util.concurrent.ConcurrentLinkedQueue<String> laneTokens = new java.util.concurrent.ConcurrentLinkedQueue<>();
    volatile String caPem;
    List<HostPort> servers;
    int grpcTarget;
    int legacyTarget;
    final Semaphore registerPermits = new Semaphore(0);
    Semaphore connectPermits;
    final LongAdder registerErrors = new LongAdder();
    final LongAdder connectFailures = new LongAdder();
    final LongAdder streamDrops = new LongAdder();
    final LongAdder otherErrors = new LongAdder();
    final LongAdder reconnectDrops = new LongAdder();
    final LongAdder reconnectConnectFailures = new LongAdder();
    final LongAdder acks = new LongAdder();
    final LongAdder reportsSent = new LongAdder();
    final LongAdder commandsReceived = new LongAdder();
    final AtomicInteger registered = new AtomicInteger();
    /** While true, a registered worker waits to connect: the storm measures Register alone. */
    volatile boolean holdConnects = true;
    final AtomicInteger connected = new AtomicInteger();
    final AtomicInteger legacyPolling = new AtomicInteger();
    final AtomicInteger maxConnected = new AtomicInteger();
    final AtomicLong firstRegisterNanos = new AtomicLong();
    final AtomicLong lastRegisteredNanos = new AtomicLong();
    final AtomicLong allConnectedNanos = new AtomicLong();
    volatile boolean expectingDrops;
    volatile boolean closing;
    final AtomicLong dropEpochMs = new AtomicLong();
    final AtomicLong allBackEpochMs = new AtomicLong();
    volatile long forcedIntervalMs;
    final Map<String, long[]> pending = new ConcurrentHashMap<>(); // service -> {sentNanos, legacy?1:0}
    final LatencyRecorder grpcLatency = new LatencyRecorder();
    final LatencyRecorder legacyLatency = new LatencyRecorder();
    final AtomicInteger errorsPrinted = new AtomicInteger();
    PrintStream log;
    Simulator owner;

    void noteError(String what, Throwable e) {
      if (errorsPrinted.incrementAndGet() <= 10) {
        log.println("sim: " + what + " failed: " + describe(e));
      }
    }

    /** When set (the warm-up), every newly registered worker is also queued here. */
    volatile java.util.Queue<SimWorker> registeredQueue;

    void registered(Object worker) {
      registered.incrementAndGet();
      lastRegisteredNanos.set(System.nanoTime());
      java.util.Queue<SimWorker> queue = registeredQueue;
      if (queue != null && worker instanceof SimWorker w) {
        queue.add(w);
      }
    }

    void retryRegistration(SimWorker worker) {
      owner.retry(worker);
    }

    void connected(Object worker) {
      int now = connected.incrementAndGet();
      maxConnected.accumulateAndGet(now, Math::max);
      checkAll(now);
    }

    void legacyUp() {
      int now = connected.incrementAndGet();
      maxConnected.accumulateAndGet(now, Math::max);
      checkAll(now);
    }

    private void checkAll(int now) {
      if (now >= grpcTarget + legacyTarget) {
        allConnectedNanos.compareAndSet(0, System.nanoTime());
        if (dropEpochMs.get() != 0) {
          allBackEpochMs.compareAndSet(0, System.currentTimeMillis());
        }
      }
    }

    void dropped(Object worker, String stream, Throwable cause) {
      connected.decrementAndGet();
      if (closing) {
        return;
      }
      if (expectingDrops) {
        reconnectDrops.increment();
        dropEpochMs.compareAndSet(0, System.currentTimeMillis());
      } else {
        streamDrops.increment();
        noteError(stream + " (session dropped)", cause);
      }
    }

    void connectFailed(Object worker, String stream, Throwable cause) {
      if (closing) {
        return;
      }
      if (expectingDrops) {
        reconnectConnectFailures.increment();
      } else {
        connectFailures.increment();
        noteError(stream + " (connect)", cause);
      }
    }

    void assignmentReceived(SimWorker worker, AssignmentEvent event) {
      if (event.hasSet()) {
        received(event.getSet().getService());
      }
    }

    void received(String service) {
      long[] sent = pending.remove(service);
      if (sent != null) {
        long latency = System.nanoTime() - sent[0];
        (sent[1] == 1 ? legacyLatency : grpcLatency).record(latency);
      }
    }
  }

  /** One per event loop: owns a shared plain-TLS channel for Register and runs its workers. */
  static final class FleetVerticle extends VerticleBase {
    private final Fleet fleet;
    private final HostPort server;
    ControllerChannel registerChannel;
    Context ctx;

    FleetVerticle(Fleet fleet, HostPort server) {
      this.fleet = fleet;
      this.server = server;
    }

    @Override
    public Future<?> start() {
      ctx = context;
      registerChannel = ControllerChannel.open(vertx, server, fleet.caPem, null);
      return Future.succeededFuture();
    }
  }

  private Vertx vertx;
  private final List<FleetVerticle> loops = new ArrayList<>();
  private final List<SimWorker> grpcWorkers = new ArrayList<>();
  private final List<LegacySimWorker> legacyWorkers = new ArrayList<>();
  private HttpClientAgent metricsClient;
  private final AtomicReference<JsonObject> lastMetrics = new AtomicReference<>(new JsonObject());
  private final AtomicLong maxUnreachable = new AtomicLong();
  private String phase = "prepare";
  private long lastProgressNanos;
  private long lastProgressRegistered;
  private long lastProgressConnected;
  private long lastProgressAcks;
  private long startNanos;

  public SimulationReport run() throws Exception {
    long t0 = System.nanoTime();
    int n = s.workers();
    int legacyN = (int) Math.round(n * Math.max(0, Math.min(1, s.legacyFraction())));
    int grpcN = n - legacyN;
    fleet.servers = s.servers();
    fleet.grpcTarget = grpcN;
    fleet.legacyTarget = legacyN;
    fleet.log = s.progress();
    fleet.owner = this;
    fleet.connectPermits = new Semaphore(s.connectWindow());
    fleet.forcedIntervalMs = s.reportInterval().toMillis();
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(s.eventLoops()));
    try {
      int lanes = Math.max(1, Math.min(s.registerWindow(), n));
      for (int i = 0; i < lanes; i++) {
        JsonObject minted = operator.request(Addresses.OPERATOR_TOKEN_CREATE,
            new JsonObject().put("ttl_secs", 6 * 3600).put("uses", Math.max(1, n)));
        fleet.laneTokens.add(minted.getString("token"));
        fleet.token = minted.getString("token");
      }
      BootstrapToken token = BootstrapToken.decode(fleet.token);
      fleet.caPem = await(discoverCa(s.servers().get(0), token.caSha256()), Duration.ofSeconds(15));
      metricsClient = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setVerifyHost(false)
          .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(fleet.caPem))));

      // Keys and CSRs before the clock: on a real fleet every worker makes its own.
      long k0 = System.nanoTime();
      int warmN = Math.max(0, s.warmup());
      int keyN = grpcN + warmN;
      String[] keyPems = new String[keyN];
      byte[][] csrs = new byte[keyN][];
      int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<java.util.concurrent.Future<?>> jobs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int lane = t;
          jobs.add(pool.submit(() -> {
            for (int i = lane; i < keyN; i += threads) {
              KeyPair keys = WorkerKeys.generateP256();
              keyPems[i] = Pem.privateKeyToPem(keys.getPrivate());
              csrs[i] = WorkerKeys.createCsr(keys, "zlayer-sim-" + i);
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
      double keygenSecs = (System.nanoTime() - k0) / 1e9;
      s.progress().printf("sim: prepared %d keys and CSRs in %.1f s; %d gRPC + %d legacy workers on %d event loops%n",
          grpcN, keygenSecs, grpcN, legacyN, s.eventLoops());

      for (int i = 0; i < s.eventLoops(); i++) {
        FleetVerticle fv = new FleetVerticle(fleet, s.servers().get(i % s.servers().size()));
        await(vertx.deployVerticle(fv), Duration.ofSeconds(30));
        loops.add(fv);
      }
      for (int i = 0; i < grpcN; i++) {
        grpcWorkers.add(new SimWorker(fleet, i, loops.get(i % loops.size()).ctx, keyPems[i], csrs[i]));
      }
      for (int i = 0; i < legacyN; i++) {
        legacyWorkers.add(new LegacySimWorker(fleet, i, loops.get(i % loops.size()).ctx, this));
      }
      if (warmN > 0) {
        phase = "warm-up";
        new WarmUp(fleet, loops, this, operator, s.progress(), this::fetchMetrics).run(
            java.util.Arrays.copyOfRange(keyPems, grpcN, keyN), java.util.Arrays.copyOfRange(csrs, grpcN, keyN),
            s.registerWindow(), Duration.ofSeconds(Math.max(150, warmN / 50 + 120)));
      }
      double cryptoBefore = measureCrypto("just before the storm");
      long metricsTimer = vertx.setPeriodic(1000, id -> pollMetrics());

      // ---- register + connect ----
      phase = "connect";
      fleet.registerPermits.release(s.registerWindow());
      startNanos = System.nanoTime();
      lastProgressNanos = startNanos;
      fleet.firstRegisterNanos.set(startNanos);
      for (int i = 0; i < n; i++) {
        if (s.rampPerSec() > 0) {
          long due = startNanos + (long) (i * 1e9 / s.rampPerSec());
          while (System.nanoTime() < due) {
            progressMaybe();
            Thread.sleep(Math.max(1, Math.min(50, (due - System.nanoTime()) / 1_000_000)));
          }
        }
        while (!fleet.registerPermits.tryAcquire(50, TimeUnit.MILLISECONDS)) {
          progressMaybe();
        }
        progressMaybe();
        if (i < grpcN) {
          startRegistration(grpcWorkers.get(i));
        } else {
          LegacySimWorker w = legacyWorkers.get(i - grpcN);
          w.context().runOnContext(v -> w.start());
        }
      }
      // The storm is Register alone; then the whole fleet connects (mTLS + three streams each).
      waitFor(() -> fleet.registered.get() >= n, s.connectTimeout()); // failed registrations retry
      double stormSecs = (fleet.lastRegisteredNanos.get() - startNanos) / 1e9;
      s.progress().printf("sim: registration storm: %d registered in %.2f s; now connecting%n", fleet.registered.get(), stormSecs);
      long connectStart = System.nanoTime();
      fleet.holdConnects = false;
      for (SimWorker w : grpcWorkers) {
        w.context().runOnContext(v -> w.connectAfterRegistration());
      }
      boolean all = waitFor(() -> fleet.connected.get() >= n, s.connectTimeout());
      if (!all) {
        s.progress().printf("sim: only %d of %d connected after %s%n", fleet.connected.get(), n, s.connectTimeout());
      }
      double registerSecs = (fleet.lastRegisteredNanos.get() - startNanos) / 1e9;
      double connectSecs = fleet.allConnectedNanos.get() == 0 ? Double.NaN
          : (fleet.allConnectedNanos.get() - connectStart) / 1e9;
      progress(true);
      double cryptoAfter = measureCrypto("after the fleet connected");

      // ---- hold ----
      phase = "hold";
      s.progress().println("sim: all connected; holding for " + s.duration().toSeconds() + " s");
      sleepWithProgress(s.duration());

      // ---- assignments ----
      int grpcSent = 0;
      int legacySent = 0;
      if (s.assignments() > 0) {
        phase = "assign";
        List<Object> targets = new ArrayList<>();
        grpcWorkers.stream().filter(w -> w.nodeId() > 0).forEach(targets::add);
        legacyWorkers.stream().filter(w -> w.nodeId() > 0).forEach(targets::add);
        if (targets.isEmpty()) {
          throw new IllegalStateException("no registered worker to assign to");
        }
        for (int k = 0; k < s.assignments(); k++) {
          Object target = targets.get(ThreadLocalRandom.current().nextInt(targets.size()));
          boolean legacy = target instanceof LegacySimWorker;
          long nodeId = legacy ? ((LegacySimWorker) target).nodeId() : ((SimWorker) target).nodeId();
          String service = "sim-a" + k;
          fleet.pending.put(service, new long[] {System.nanoTime(), legacy ? 1 : 0});
          try {
            operator.request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", nodeId).put("service", service)
                .put("role", "default").put("indices", new JsonArray().add(0)).put("command", "true")
                .put("env", new JsonObject()));
          } catch (Exception e) {
            fleet.pending.remove(service);
            fleet.otherErrors.increment();
            fleet.noteError("assign", e);
            continue;
          }
          if (legacy) {
            legacySent++;
          } else {
            grpcSent++;
          }
          progressMaybe();
        }
        waitFor(fleet.pending::isEmpty, Duration.ofSeconds(30));
        s.progress().printf("sim: assignments delivered %d/%d (gRPC), %d/%d (legacy)%n", fleet.grpcLatency.count(),
            grpcSent, fleet.legacyLatency.count(), legacySent);
      }

      // ---- ingest ----
      double ingestController = Double.NaN;
      double ingestAcks = Double.NaN;
      double ingestOffered = Double.NaN;
      if (s.ingestInterval().toMillis() > 0 && s.ingestDuration().toMillis() > 0) {
        phase = "ingest";
        fleet.forcedIntervalMs = s.ingestInterval().toMillis();
        rescheduleAll();
        sleepWithProgress(Duration.ofSeconds(3));
        long h0 = heartbeatsNow();
        long a0 = fleet.acks.sum();
        long r0 = fleet.reportsSent.sum();
        long w0 = System.nanoTime();
        sleepWithProgress(s.ingestDuration());
        long h1 = heartbeatsNow();
        double secs = (System.nanoTime() - w0) / 1e9;
        ingestController = (h1 - h0) / secs;
        ingestAcks = (fleet.acks.sum() - a0) / secs;
        ingestOffered = (fleet.reportsSent.sum() - r0) / secs;
        s.progress().printf("sim: ingest at a forced %d ms interval: controller %.0f reports/s, acks %.0f/s, sent %.0f/s%n",
            s.ingestInterval().toMillis(), ingestController, ingestAcks, ingestOffered);
        fleet.forcedIntervalMs = s.reportInterval().toMillis();
        rescheduleAll();
        sleepWithProgress(Duration.ofSeconds(3));
      }

      // ---- reconnect ----
      boolean reconnectObserved = false;
      double reconnectSecs = Double.NaN;
      if (s.expectReconnect().toMillis() > 0) {
        phase = "await-restart";
        fleet.expectingDrops = true;
        maxUnreachable.set(0);
        s.progress().println("SIM-READY-FOR-RESTART: kill and restart the controller now");
        s.progress().flush();
        if (waitFor(() -> fleet.dropEpochMs.get() != 0, s.expectReconnect())) {
          phase = "reconnect";
          waitFor(() -> fleet.allBackEpochMs.get() != 0, s.expectReconnect());
          if (fleet.allBackEpochMs.get() != 0) {
            reconnectObserved = true;
            reconnectSecs = (fleet.allBackEpochMs.get() - fleet.dropEpochMs.get()) / 1000.0;
            s.progress().printf("SIM-ALL-BACK: all %d back %.2f s after the first drop%n", n, reconnectSecs);
          } else {
            s.progress().printf("sim: only %d of %d back after %s%n", fleet.connected.get(), n, s.expectReconnect());
          }
          phase = "after-reconnect";
          sleepWithProgress(Duration.ofSeconds(10)); // unreachable marks would show up here
        } else {
          s.progress().println("sim: no drop observed within " + s.expectReconnect());
        }
        fleet.expectingDrops = false;
      }

      vertx.cancelTimer(metricsTimer);
      phase = "done";
      progress(true);
      long connectedAtEnd = fleet.connected.get();
      double total = (System.nanoTime() - t0) / 1e9;
      return new SimulationReport(n, grpcN, legacyN, fleet.registered.get(), connectedAtEnd, fleet.maxConnected.get(),
          keygenSecs, registerSecs, fleet.registered.get() / registerSecs, connectSecs,
          fleet.registerErrors.sum(), fleet.connectFailures.sum(), fleet.streamDrops.sum(), fleet.otherErrors.sum(),
          fleet.reconnectDrops.sum(), fleet.reconnectConnectFailures.sum(),
          grpcSent, fleet.grpcLatency.count(), fleet.grpcLatency.percentileMillis(50),
          fleet.grpcLatency.percentileMillis(99), fleet.grpcLatency.maxMillis(),
          legacySent, fleet.legacyLatency.count(), fleet.legacyLatency.percentileMillis(50),
          fleet.legacyLatency.percentileMillis(99),
          ingestController, ingestAcks, ingestOffered,
          reconnectObserved, fleet.dropEpochMs.get(), fleet.allBackEpochMs.get(), reconnectSecs,
          maxUnreachable.get(), fleet.reportsSent.sum(), fleet.acks.sum(), total, cryptoBefore, cryptoAfter);
    } finally {
      fleet.closing = true;
      for (SimWorker w : grpcWorkers) {
        w.context().runOnContext(v -> w.stop());
      }
      for (LegacySimWorker w : legacyWorkers) {
        w.context().runOnContext(v -> w.stop());
      }
      // The held polls' connections first: closed by Vert.x's own shutdown, they would report to
      // event loops that have already stopped.
      HttpClientAgent legacy;
      synchronized (this) {
        legacy = legacyClient;
      }
      try {
        if (legacy != null) {
          legacy.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
      } catch (Exception e) {
        s.progress().println("sim: closing the legacy client: " + describe(e));
      }
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (Exception e) {
        s.progress().println("sim: vertx close: " + describe(e));
      }
    }
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

  /**
   * Starts a worker's registration on its event loop over its loop's shared channel. The warm-up
   * goes through here too, so the measured storm runs the very call sites the JIT compiled.
   */
  void startRegistration(SimWorker worker) {
    FleetVerticle fv = loops.get(worker.index % loops.size());
    fv.ctx.runOnContext(v -> worker.start(fv.registerChannel));
  }

  void retry(SimWorker worker) {
    FleetVerticle fv = loops.get(worker.index % loops.size());
    if (worker.fleet().registerPermits.tryAcquire()) {
      worker.start(fv.registerChannel);
    } else {
      vertx.setTimer(50, t -> retry(worker));
    }
  }

  Fleet fleet() {
    return fleet;
  }

  private HttpClientAgent legacyClient;

  /** The legacy workers' shared HTTP/1.1 client: one connection per outstanding request (held polls). */
  synchronized HttpClientAgent legacyHttp() {
    if (legacyClient == null) {
      legacyClient = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setVerifyHost(false)
              .setKeepAlive(true).setConnectTimeout(10_000)
              .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(fleet.caPem))),
          new io.vertx.core.http.PoolOptions().setHttp1MaxSize(Math.max(16, fleet.legacyTarget * 2 + 64))
              .setMaxWaitQueueSize(-1));
    }
    return legacyClient;
  }

  HostPort legacyServer(int index) {
    return s.servers().get(Math.floorMod(index, s.servers().size()));
  }

  private void rescheduleAll() {
    for (SimWorker w : grpcWorkers) {
      w.context().runOnContext(v -> w.rescheduleNow());
    }
    for (LegacySimWorker w : legacyWorkers) {
      w.context().runOnContext(v -> w.rescheduleNow());
    }
  }

  private long heartbeatsNow() {
    try {
      JsonObject m = await(fetchMetrics(), Duration.ofSeconds(15));
      return m.getLong("heartbeats", 0L);
    } catch (Exception e) {
      s.progress().println("sim: /metrics: " + describe(e));
      return lastMetrics.get().getLong("heartbeats", 0L);
    }
  }

  private Future<JsonObject> fetchMetrics() {
    HostPort server = s.servers().get(0);
    return metricsClient.request(HttpMethod.GET, server.port(), server.host(), "/metrics")
        .compose(req -> req.send().compose(resp -> resp.body()))
        .map(Buffer::toJsonObject);
  }

  private void pollMetrics() {
    fetchMetrics().onSuccess(m -> {
      lastMetrics.set(m);
      JsonObject nodes = m.getJsonObject("nodes", new JsonObject());
      maxUnreachable.accumulateAndGet(nodes.getLong("unreachable", 0L), Math::max);
    });
  }

  private boolean waitFor(BooleanSupplier done, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      progressMaybe();
      Thread.sleep(20); // bounded poll of in-process counters
    }
    return true;
  }

  private void sleepWithProgress(Duration d) throws InterruptedException {
    long end = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < end) {
      progressMaybe();
      Thread.sleep(Math.max(1, Math.min(100, (end - System.nanoTime()) / 1_000_000)));
    }
  }

  private void progressMaybe() {
    if (System.nanoTime() - lastProgressNanos >= s.progressInterval().toNanos()) {
      progress(false);
    }
  }

  private void progress(boolean force) {
    long now = System.nanoTime();
    double dt = Math.max(1e-3, (now - lastProgressNanos) / 1e9);
    long reg = fleet.registered.get();
    long con = fleet.connected.get();
    long acks = fleet.acks.sum();
    JsonObject m = lastMetrics.get();
    s.progress().printf("[%6.1fs] phase=%s registered=%d/%d connected=%d/%d errors=%d reg/s=%.0f conn/s=%.0f "
            + "acks/s=%.0f legacy_polls=%d assigned=%d/%d ctl_leases=%s ctl_unreachable=%s%n",
        startNanos == 0 ? 0 : (now - startNanos) / 1e9, phase, reg, s.workers(), con, s.workers(),
        fleet.registerErrors.sum() + fleet.connectFailures.sum() + fleet.streamDrops.sum() + fleet.otherErrors.sum(),
        (reg - lastProgressRegistered) / dt, (con - lastProgressConnected) / dt, (acks - lastProgressAcks) / dt,
        fleet.legacyPolling.get(), fleet.grpcLatency.count() + fleet.legacyLatency.count(),
        s.assignments(), m.getValue("leases_live", "?"),
        m.getJsonObject("nodes", new JsonObject()).getValue("unreachable", 0));
    s.progress().flush();
    lastProgressNanos = now;
    lastProgressRegistered = reg;
    lastProgressConnected = con;
    lastProgressAcks = acks;
  }

  /** The CA the token pins, taken from the controller's TLS chain (as the agent's CaPin does). */
  private Future<String> discoverCa(HostPort server, String caSha256) {
    NetClient client = vertx.createNetClient(new NetClientOptions().setSsl(true).setTrustAll(true)
        .setHostnameVerificationAlgorithm("").setConnectTimeout(5000));
    return client.connect(server.port(), server.host()).compose(socket -> {
      try {
        for (Certificate c : socket.peerCertificates()) {
          if (c instanceof X509Certificate x && WorkerCa.spkiSha256(x).equalsIgnoreCase(caSha256)) {
            return Future.succeededFuture(Pem.encode(Pem.CERTIFICATE, x.getEncoded()));
          }
        }
        return Future.<String>failedFuture("controller " + server + " does not present the CA the token pins");
      } catch (Exception e) {
        return Future.<String>failedFuture(e);
      } finally {
        socket.close();
      }
    }).eventually(client::close);
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
