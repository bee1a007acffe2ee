package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.pki.SecureFiles;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process driver (like Nomad's raw_exec): runs every assigned replica as {@code /bin/sh -c
 * command}, restarts replicas that exit, stops them on drain, delete or worker exit, and answers
 * snapshots of what runs.
 *
 * <p>Consumes {@link Addresses#WORKER_ASSIGNMENTS} and {@link Addresses#WORKER_EXECUTOR_DRAIN};
 * answers {@link Addresses#WORKER_EXECUTOR_SNAPSHOT}. The desired services, the draining flag and
 * the live processes (pid and {@code /proc} start time) are kept in {@code <data_dir>/executor.json}.
 * A restarted worker adopts the processes that still run and are still wanted, as Nomad
 * re-attaches to tasks (no second copy, no restart; their exits are still noticed), stops the
 * ones no longer wanted, and starts what is missing. A plain agent stop leaves the replicas
 * running ({@link #keepWorkloadsOnStop}); otherwise stop() stops them.
 *
 * <p>All state lives on this verticle's context; forks, signals and file I/O run on worker threads,
 * and process exits are hopped back to the context.
 */
public final class ExecutorVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorVerticle.class);
  /** A replica that ran at least this long restarts after {@code restartMin} again. */
  static final long STABLE_RUN_NANOS = Duration.ofSeconds(10).toNanos();
  /** How long stop() waits for processes beyond the grace (after KILL) before giving up. */
  private static final long STOP_SLACK_MS = 5_000;

  /** Stop grace (TERM to KILL) and the restart backoff bounds. */
  public record Timing(Duration stopGrace, Duration restartMin, Duration restartMax) {
    public static final Timing DEFAULTS = new Timing(Duration.ofSeconds(5), Duration.ofSeconds(1), Duration.ofSeconds(30));

    public Timing {
      Objects.requireNonNull(stopGrace, "stopGrace");
      Objects.requireNonNull(restartMin, "restartMin");
      Objects.requireNonNull(restartMax, "restartMax");
      if (restartMax.compareTo(restartMin) < 0) {
        restartMax = restartMin;
      }
    }
  }

  private final Path dataDir;
  private final Path stateFile;
  private final Timing timing;

  private final Map<String, ExecutorState.Service> desired = new TreeMap<>();
  private long appliedRevision;
  private final Map<Replica.Key, Replica> replicas = new TreeMap<>();
  private final List<Promise<Void>> idleWaiters = new ArrayList<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private boolean draining;
  private Duration drainGrace;
  private boolean shuttingDown;
  private volatile boolean keepWorkloadsOnStop;

  public ExecutorVerticle(Path dataDir) {
    this(dataDir, Timing.DEFAULTS);
  }

  public ExecutorVerticle(Path dataDir, Timing timing) {
    this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
    this.stateFile = dataDir.resolve(ExecutorState.FILE_NAME);
    this.timing = Objects.requireNonNull(timing, "timing");
    this.drainGrace = timing.stopGrace();
  }

  /**
   * With {@code true}, stop() leaves the replicas running (an agent restart or upgrade: the next
   * run adopts them); the default stops them. Set before undeploying.
   */
  public void keepWorkloadsOnStop(boolean keep) {
    this.keepWorkloadsOnStop = keep;
  }

  @Override
  public Future<?> start() {
    return vertx.executeBlocking(() -> PreviousRun.recover(stateFile, timing.stopGrace()), true).compose(result -> {
      ExecutorState loaded = result.state();
      draining = loaded.draining();
      appliedRevision = loaded.appliedRevision();
      desired.putAll(loaded.services());
      result.adopted().forEach(this::adopt);
      desired.forEach(this::applyService);
      // Adopted processes no service wants any more (or all, when draining) are stopped now.
      new ArrayList<>(replicas.values()).forEach(r -> reconcile(r, timing.stopGrace()));
      if (draining) {
        LOG.info("executor: draining (remembered); not starting {} service(s)", desired.size());
      } else if (!desired.isEmpty()) {
        LOG.info("executor: resuming {} service(s)", desired.size());
      }
      persist();
      consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_ASSIGNMENTS, this::onAssignment));
      consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_EXECUTOR_DRAIN, this::onDrain));
      consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_EXECUTOR_SNAPSHOT, this::onSnapshot));
      consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_EXECUTOR_APPLIED,
          m -> m.reply(new JsonObject().put("revision", appliedRevision))));
      consumers.add(vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_EXECUTOR_RESET, this::onReset));
      return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
    });
  }

  /**
   * Worker exit: stop every process (TERM, KILL after the grace) and wait; the desired state stays
   * on disk. With {@link #keepWorkloadsOnStop}, the processes keep running and are recorded for
   * the next run to adopt.
   */
  @Override
  public Future<?> stop() {
    shuttingDown = true;
    consumers.forEach(MessageConsumer::unregister);
    if (keepWorkloadsOnStop) {
      replicas.values().forEach(this::cancelRestart);
      long running = replicas.values().stream().filter(r -> r.process != null).count();
      LOG.info("executor: agent stopping; {} replica process(es) keep running for the next run to adopt", running);
      return persist().recover(e -> Future.succeededFuture());
    }
    new ArrayList<>(replicas.values()).forEach(r -> reconcile(r, timing.stopGrace()));
    Promise<Void> idle = Promise.promise();
    whenIdle(idle);
    long cap = timing.stopGrace().toMillis() + STOP_SLACK_MS;
    long timer = vertx.setTimer(cap, id -> {
      if (idle.tryComplete()) {
        LOG.warn("executor: processes still alive {} ms after stop; giving up on them", cap);
      }
    });
    return idle.future().compose(v -> {
      vertx.cancelTimer(timer);
      return persist();
    }).recover(e -> Future.succeededFuture());
  }

  // ---- bus ----

  private void onAssignment(Message<JsonObject> msg) {
    JsonObject body = msg.body();
    String kind = body == null ? "" : body.getString("kind", "");
    switch (kind) {
      case Events.SET -> onSet(body);
      case Events.DELETE -> onDelete(body.getString("service"));
      case Events.DRAIN -> drain(timing.stopGrace());
      case Events.UNDRAIN -> undrain();
      case Events.RESYNC -> onResync(body);
      default -> LOG.warn("executor: ignoring assignment event of kind '{}' (revision {})", kind, body == null ? null : body.getValue("revision"));
    }
    // Recorded with the desired state it produced, in the same file: the worker resumes from here.
    appliedRevision = Math.max(appliedRevision, body == null ? 0 : body.getLong("revision", 0L));
    persist();
  }

  /**
   * A new identity (a new node), or the node left: forget every assignment and stop what runs.
   * Replies once stored; with {@code await_idle: true}, once every process is gone too.
   */
  private void onReset(Message<JsonObject> msg) {
    for (String service : new ArrayList<>(desired.keySet())) {
      onDelete(service);
    }
    draining = false;
    appliedRevision = 0;
    boolean awaitIdle = msg.body() != null && msg.body().getBoolean("await_idle", false);
    persist().onComplete(ar -> {
      if (!awaitIdle) {
        msg.reply(new JsonObject());
        return;
      }
      Promise<Void> idle = Promise.promise();
      whenIdle(idle);
      idle.future().onComplete(v -> msg.reply(new JsonObject()));
    });
  }

  private void onSet(JsonObject body) {
    String service = body.getString("service");
    if (service == null || service.isEmpty()) {
      LOG.warn("executor: ignoring set without a service (revision {})", body.getValue("revision"));
      return;
    }
    if (draining) {
      LOG.info("executor: draining; ignoring set of service {} (revision {})", service, body.getValue("revision"));
      return;
    }
    ExecutorState.Service next = ExecutorState.Service.fromJson(body.getJsonArray("assignments"), body.getJsonObject("spec"));
    if (next.equals(desired.get(service))) {
      return; // idempotent: nothing changed
    }
    desired.put(service, next);
    applyService(service, next);
    persist();
  }

  /**
   * The node's whole desired state (its events fell out of the controller's history window): run
   * exactly the listed services, drained or not; any other service is dropped.
   */
  private void onResync(JsonObject body) {
    Map<String, ExecutorState.Service> listed = new LinkedHashMap<>();
    for (Object o : body.getJsonArray("services", new JsonArray())) {
      if (o instanceof JsonObject set && set.getString("service") != null && !set.getString("service").isEmpty()) {
        listed.put(set.getString("service"), ExecutorState.Service.fromJson(set.getJsonArray("assignments"), set.getJsonObject("spec")));
      }
    }
    int dropped = 0;
    for (String service : new ArrayList<>(desired.keySet())) {
      if (!listed.containsKey(service)) {
        onDelete(service);
        dropped++;
      }
    }
    boolean drain = body.getBoolean("draining", false);
    LOG.info("executor: resync at revision {}: {} service(s){}, {} dropped", body.getValue("revision"), listed.size(),
        drain ? " (draining)" : "", dropped);
    if (drain || draining) {
      desired.putAll(listed); // recorded; they run once undrained
      if (drain) {
        drain(timing.stopGrace());
      } else {
        undrain();
      }
      return;
    }
    listed.forEach((service, next) -> {
      if (!next.equals(desired.get(service))) {
        desired.put(service, next);
        applyService(service, next);
      }
    });
  }

  private void onDelete(String service) {
    if (service == null) {
      return;
    }
    if (desired.remove(service) != null) {
      LOG.info("executor: service {} deleted", service);
    }
    for (Replica r : new ArrayList<>(replicas.values())) {
      if (r.key.service().equals(service)) {
        r.wanted = false;
        reconcile(r, currentGrace());
      }
    }
    persist();
  }

  private void onDrain(Message<JsonObject> msg) {
    long secs = msg.body() == null ? 0L : msg.body().getLong("deadline_secs", 0L);
    Duration grace = secs <= 0 ? timing.stopGrace() : min(Duration.ofSeconds(secs), timing.stopGrace());
    drain(grace);
    if (msg.replyAddress() != null) {
      Promise<Void> idle = Promise.promise();
      whenIdle(idle);
      idle.future().onComplete(v -> msg.reply(new JsonObject().put("state", "draining")));
    }
  }

  private void drain(Duration grace) {
    if (!draining) {
      LOG.info("executor: draining; stopping {} replica(s), KILL after {} ms", replicas.size(), grace.toMillis());
    }
    draining = true;
    drainGrace = grace;
    new ArrayList<>(replicas.values()).forEach(r -> reconcile(r, grace));
    persist();
  }

  /** The node takes work again: the assigned services run again. */
  private void undrain() {
    if (draining) {
      LOG.info("executor: undrained; starting {} service(s) again", desired.size());
    }
    draining = false;
    desired.forEach(this::applyService);
    persist();
  }

  private void onSnapshot(Message<JsonObject> msg) {
    vertx.executeBlocking(ExecutorVerticle::resources, false)
        .recover(e -> Future.succeededFuture(new JsonObject().put("cpu_used", 0.0).put("memory_used_bytes", 0L).put("gpu_used", 0)))
        .onSuccess(resources -> {
          JsonArray containers = new JsonArray();
          replicas.values().forEach(r -> containers.add(r.toJson()));
          msg.reply(new JsonObject().put("state", draining ? "draining" : "ready")
              .put("containers", containers).put("resources", resources));
        });
  }

  /** Blocking: machine-wide CPU (cores in use) and memory in use. */
  private static JsonObject resources() {
    double cpu = 0;
    long mem = 0;
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      double load = os.getCpuLoad();
      cpu = load > 0 ? load * os.getAvailableProcessors() : 0;
      mem = Math.max(0, os.getTotalMemorySize() - os.getFreeMemorySize());
    }
    return new JsonObject().put("cpu_used", cpu).put("memory_used_bytes", mem).put("gpu_used", 0);
  }

  // ---- reconciliation ----

  /**
   * Takes over a process of a previous run as the replica it was recorded for, unwanted until a
   * desired service claims it ({@link #applyService}). Its exit is watched like a child's.
   */
  private void adopt(PreviousRun.Adopted a) {
    ExecutorState.RecordedProcess rp = a.recorded();
    Replica.Key key = new Replica.Key(rp.service(), rp.role(), rp.replica());
    if (replicas.containsKey(key)) {
      return; // two records of one replica: the first wins, the other is left alone
    }
    ExecutorState.Service svc = desired.get(rp.service());
    ExecutorState.Spec ran = rp.spec() != null ? rp.spec()
        : svc != null ? svc.spec() : new ExecutorState.Spec("", Map.of());
    Replica r = new Replica(key, ran, timing.restartMin().toMillis());
    r.wanted = false;
    r.runningSpec = ran;
    r.process = a.handle();
    r.pid = rp.pid();
    r.startMillis = rp.startMillis();
    r.startTicks = rp.startTicks();
    long ageMillis = Math.max(0, System.currentTimeMillis() - rp.startMillis());
    r.startedNanos = System.nanoTime() - Duration.ofMillis(ageMillis).toNanos();
    r.state = Replica.State.RUNNING;
    replicas.put(key, r);
    LOG.info("executor: adopted {} pid={} from a previous run", key, r.pid);
    watchExit(r, a.handle());
  }

  /** Hops a process's exit (child or adopted: the JDK watches /proc for those) back to this context. */
  private void watchExit(Replica r, ProcessHandle h) {
    h.onExit().whenComplete((ph, e) -> context.runOnContext(v -> exited(r, h)));
  }

  /** Makes the replicas of {@code service} exactly the assigned (role, index) pairs running {@code svc.spec()}. */
  private void applyService(String service, ExecutorState.Service svc) {
    Map<Replica.Key, Boolean> assigned = new HashMap<>();
    svc.roles().forEach((role, indices) -> indices.forEach(i -> assigned.put(new Replica.Key(service, role, i), true)));
    for (Replica r : new ArrayList<>(replicas.values())) {
      if (r.key.service().equals(service) && !assigned.containsKey(r.key)) {
        r.wanted = false;
        reconcile(r, currentGrace());
      }
    }
    for (Replica.Key key : assigned.keySet()) {
      Replica r = replicas.computeIfAbsent(key, k -> new Replica(k, svc.spec(), timing.restartMin().toMillis()));
      r.wanted = true;
      r.spec = svc.spec();
      reconcile(r, currentGrace());
    }
  }

  private Duration currentGrace() {
    return draining ? drainGrace : timing.stopGrace();
  }

  private boolean shouldRun(Replica r) {
    return r.wanted && !draining && !shuttingDown;
  }

  /** Moves one replica toward what is wanted; called after every change and every process event. */
  private void reconcile(Replica r, Duration grace) {
    if (r.starting) {
      return; // reconciled again once the fork is done
    }
    boolean run = shouldRun(r);
    if (r.process != null) {
      if (!run || !r.spec.equals(r.runningSpec)) {
        stop(r, grace);
      }
      return;
    }
    if (run) {
      if (r.restartTimer >= 0) {
        if (r.spec.equals(r.runningSpec)) {
          return; // waiting out the backoff
        }
        cancelRestart(r);
      }
      start(r);
      return;
    }
    cancelRestart(r);
    if (!r.wanted) {
      replicas.remove(r.key);
      checkIdle();
    } else {
      r.state = Replica.State.STOPPED;
    }
  }

  private void start(Replica r) {
    r.starting = true;
    r.state = Replica.State.STARTING;
    r.runningSpec = r.spec;
    ExecutorState.Spec spec = r.spec;
    Map<String, String> env = new HashMap<>();
    env.put("ZLAYER_SERVICE", r.key.service());
    env.put("ZLAYER_ROLE", r.key.role());
    env.put("ZLAYER_REPLICA", Integer.toString(r.key.index()));
    env.putAll(spec.env());
    Path log = dataDir.resolve("logs").resolve(safe(r.key.service()) + "-" + safe(r.key.role()) + "-" + r.key.index() + ".log");
    vertx.executeBlocking(() -> ProcessControl.start(spec.command(), env, log), false).onComplete(ar -> {
      r.starting = false;
      if (ar.failed()) {
        LOG.warn("executor: cannot start {}: {}", r.key, ar.cause().toString());
        r.state = Replica.State.FAILED;
        scheduleRestartOrSettle(r);
        return;
      }
      Process p = ar.result().process();
      r.child = p;
      r.process = p.toHandle();
      r.pid = p.pid();
      r.startMillis = ar.result().startMillis();
      r.startTicks = ar.result().startTicks();
      r.startedNanos = System.nanoTime();
      r.state = Replica.State.RUNNING;
      LOG.info("executor: started {} pid={}", r.key, r.pid);
      changed();
      watchExit(r, r.process);
      persist();
      reconcile(r, currentGrace());
    });
  }

  private void exited(Replica r, ProcessHandle p) {
    if (r.process != p) {
      return;
    }
    if (r.killTimer >= 0) {
      vertx.cancelTimer(r.killTimer);
      r.killTimer = -1;
    }
    // An adopted process is not our child: its exit code went to its new parent.
    String code = r.child != null ? Integer.toString(r.child.exitValue()) : "unknown";
    boolean clean = r.child != null && r.child.exitValue() == 0;
    long ranNanos = System.nanoTime() - r.startedNanos;
    long pid = r.pid;
    r.process = null;
    r.child = null;
    r.pid = 0;
    if (r.stopping) {
      r.stopping = false;
      r.state = Replica.State.STOPPED;
      LOG.info("executor: stopped {} pid={} exit={}", r.key, pid, code);
      reconcile(r, currentGrace());
    } else {
      r.state = clean ? Replica.State.EXITED : Replica.State.FAILED;
      LOG.info("executor: exited {} pid={} exit={} after {} ms", r.key, pid, code, ranNanos / 1_000_000);
      if (ranNanos > STABLE_RUN_NANOS) {
        r.backoffMs = timing.restartMin().toMillis();
      }
      scheduleRestartOrSettle(r);
    }
    persist();
    changed();
    checkIdle();
  }

  /** A replica changed state: ask for a status report, so the controller sees it now, not at the next tick. */
  private void changed() {
    vertx.eventBus().publish(Addresses.WORKER_REPORT_NOW, new JsonObject());
  }

  /** After an unplanned exit (or failed fork): a restart after the backoff if still wanted, else settle. */
  private void scheduleRestartOrSettle(Replica r) {
    if (!shouldRun(r) || !r.spec.equals(r.runningSpec)) {
      reconcile(r, currentGrace());
      checkIdle();
      return;
    }
    long delay = Math.max(1, r.backoffMs);
    r.backoffMs = Math.min(delay * 2, timing.restartMax().toMillis());
    r.restartTimer = vertx.setTimer(delay, id -> {
      r.restartTimer = -1;
      if (shouldRun(r) && r.idle()) {
        r.restarts++;
        LOG.info("executor: restarting {} (restart {}, after {} ms)", r.key, r.restarts, delay);
        start(r);
      } else {
        reconcile(r, currentGrace());
      }
    });
    checkIdle();
  }

  /** TERM to the process tree now, KILL after {@code grace} if it is still there. Never leads to a restart. */
  private void stop(Replica r, Duration grace) {
    ProcessHandle p = r.process;
    long killAt = System.nanoTime() + grace.toNanos();
    if (r.stopping) {
      if (killAt < r.killAtNanos) { // a tighter deadline (drain) overrides
        vertx.cancelTimer(r.killTimer);
        armKill(r, p, grace, killAt);
      }
      return;
    }
    r.stopping = true;
    LOG.info("executor: stopping {} pid={} (KILL after {} ms)", r.key, r.pid, grace.toMillis());
    vertx.executeBlocking(() -> {
      ProcessControl.terminate(p);
      return null;
    }, false).onFailure(e -> LOG.warn("executor: TERM {} pid={} failed: {}", r.key, p.pid(), e.toString()));
    armKill(r, p, grace, killAt);
  }

  private void armKill(Replica r, ProcessHandle p, Duration grace, long killAt) {
    r.killAtNanos = killAt;
    r.killTimer = vertx.setTimer(Math.max(1, grace.toMillis()), id -> {
      r.killTimer = -1;
      if (r.process == p) {
        LOG.info("executor: killing {} pid={} (did not stop within {} ms)", r.key, p.pid(), grace.toMillis());
        vertx.executeBlocking(() -> {
          ProcessControl.kill(p);
          return null;
        }, false).onFailure(e -> LOG.warn("executor: KILL {} pid={} failed: {}", r.key, p.pid(), e.toString()));
      }
    });
  }

  private void cancelRestart(Replica r) {
    if (r.restartTimer >= 0) {
      vertx.cancelTimer(r.restartTimer);
      r.restartTimer = -1;
    }
  }

  private void whenIdle(Promise<Void> waiter) {
    idleWaiters.add(waiter);
    checkIdle();
  }

  private void checkIdle() {
    if (idleWaiters.isEmpty() || !replicas.values().stream().allMatch(Replica::idle)) {
      return;
    }
    List<Promise<Void>> waiters = new ArrayList<>(idleWaiters);
    idleWaiters.clear();
    waiters.forEach(Promise::tryComplete);
  }

  // ---- persistence ----

  /** Writes the current state; writes are ordered, so the file always ends with the latest one. */
  private Future<Void> persist() {
    List<ExecutorState.RecordedProcess> procs = new ArrayList<>();
    replicas.values().forEach(r -> {
      if (r.process != null) {
        procs.add(new ExecutorState.RecordedProcess(r.key.service(), r.key.role(), r.key.index(), r.pid, r.startMillis,
            r.startTicks, r.runningSpec));
      }
    });
    String json = new ExecutorState(draining, desired, procs, appliedRevision).toJson().encodePrettily();
    Future<Void> write = vertx.<Void>executeBlocking(() -> {
      SecureFiles.writePrivate(stateFile, json);
      return null;
    }, true);
    write.onFailure(e -> LOG.error("executor: cannot write {}: {}", stateFile, e.toString()));
    return write;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** A file-name-safe form of a service or role name. */
  static String safe(String name) {
    return name.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
