package io.zlayer.worker.sim;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.agent.session.CredentialStore;
import io.zlayer.worker.agent.session.Credentials;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.agent.session.Refusal;
import io.zlayer.worker.agent.session.ResumeStore;
import io.zlayer.worker.agent.session.Session;
import io.zlayer.worker.agent.session.SessionListener;
import io.zlayer.worker.agent.session.SessionSettings;
import io.zlayer.worker.agent.session.TtlBounds;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;
import io.zlayer.worker.proto.WorkerResourceUsage;
import java.time.Duration;

/**
 * One simulated node: the agent's own {@link Session} over the gRPC or the legacy transport of its
 * event loop, with pre-made keys, credentials and resume points in memory, an empty status, and a
 * listener that counts and times what happens for the {@link Fleet}. Runs on its loop's context.
 */
final class SimNode implements SessionListener {
  private static final TtlBounds TTL_BOUNDS = new TtlBounds(Duration.ofSeconds(10), Duration.ofHours(1));
  private static final WorkerProfile PROFILE = WorkerProfile.newBuilder().setOs("linux").setArch("x86_64")
      .setCpuTotal(2).setMemoryTotalBytes(1L << 30).putLabels("sim", "true").build();
  private static final Future<StatusReport> EMPTY = Future.succeededFuture(StatusReport.newBuilder()
      .setState("ready").setResources(WorkerResourceUsage.getDefaultInstance()).build());
  /** The legacy API takes no CSR. */
  private static final KeyMaterial NO_KEYS = new KeyMaterial("", new byte[0]);

  final int index;
  final boolean legacy;
  final Context context;
  private final Fleet fleet;
  private final Session session;
  private volatile long nodeId; // read by the phases' thread
  private volatile HostPort server; // the controller the session is up on, null while down
  private boolean permitHeld;

  SimNode(Fleet fleet, int index, FleetLoop loop, KeyMaterial keys, boolean legacy) {
    this.fleet = fleet;
    this.index = index;
    this.legacy = legacy;
    this.context = loop.ctx;
    var vertx = context.owner();
    SessionSettings settings = SessionSettings.of(fleet.servers, () -> TTL_BOUNDS).withFirstServer(index)
        .withSimulation(() -> fleet.forcedIntervalMs, fleet.connectWindow(vertx));
    Future<KeyMaterial> ownKeys = Future.succeededFuture(legacy ? NO_KEYS : keys);
    session = new Session(vertx, settings, new Session.Parts(legacy ? loop.legacy : loop.grpc,
        server -> fleet.ticket(vertx, server, takePermit()), () -> ownKeys, () -> PROFILE, CredentialStore.inMemory(),
        ResumeStore.inMemory(), () -> EMPTY, this), new Backoff());
  }

  private boolean takePermit() {
    boolean held = permitHeld;
    permitHeld = false;
    return held;
  }

  long nodeId() {
    return nodeId;
  }

  /** The controller this node's session is connected to now, or null. */
  HostPort server() {
    return server;
  }

  /** Registers, holding a registration permit the caller took (on any thread). */
  void register() {
    context.runOnContext(v -> {
      permitHeld = true;
      session.join();
    });
  }

  /** Connects once registered (on any thread). */
  void connect() {
    context.runOnContext(v -> session.run());
  }

  void reschedule() {
    context.runOnContext(v -> session.reschedule());
  }

  /** Stops without deregistering, as a killed worker would (on any thread). */
  void stop() {
    context.runOnContext(v -> session.stop());
  }

  // ---- what the session tells ----

  @Override
  public void joined(Credentials credentials, boolean registered) {
    nodeId = credentials.nodeId();
    fleet.registered(this);
  }

  @Override
  public void up(Credentials credentials, HostPort server, long epoch) {
    this.server = server;
    fleet.connected(this);
  }

  @Override
  public void down(Credentials credentials, HostPort server, String cause, long epoch) {
    this.server = null;
    fleet.dropped(this, new IllegalStateException(cause));
  }

  @Override
  public void failed(HostPort server, Throwable cause, boolean joining) {
    if (joining) {
      fleet.registerErrors.increment();
      fleet.noteError(legacy ? "legacy register" : "register", cause);
    } else {
      fleet.connectFailed(this, cause);
    }
  }

  @Override
  public void assignment(AssignmentEvent event) {
    if (event.hasSet()) {
      fleet.received(event.getSet().getService());
    }
  }

  @Override
  public CommandResult command(CommandEvent command) {
    fleet.commandsReceived.increment();
    return SessionListener.super.command(command);
  }

  @Override
  public void reported() {
    fleet.reportsSent.increment();
  }

  @Override
  public void acked() {
    fleet.acks.increment();
  }

  @Override
  public void refused(Credentials credentials, Refusal refusal) {
    fleet.otherErrors.increment();
    fleet.noteError("node " + credentials.nodeId() + " refused", refusal);
  }
}
