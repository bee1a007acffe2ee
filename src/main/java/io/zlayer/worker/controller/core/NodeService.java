package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.config.Durations;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.store.Watch;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every change of a node's state, in one place: registration and certificate renewal (through
 * the {@link Registrar}), heartbeats (renew the lease, bring an unreachable node back), lease
 * expiry, drain and undrain, deregistration, revocation and collection; and the one liveness rule
 * ({@link #live}). Each change is stored, logged once and told to the {@link StateListener}.
 * The gRPC service, the legacy HTTP API, the operator bridge and the lease sweeper all call it.
 */
public final class NodeService {
  private static final Logger LOG = LoggerFactory.getLogger(NodeService.class);

  /** Told of every state change after it was stored (the controller publishes it on the event bus). */
  @FunctionalInterface
  public interface StateListener {
    void changed(long nodeId, NodeState state, String cause);
  }

  private final NodeDirectory nodes;
  private final LeaseDirectory leases;
  private final Registrar registrar;
  private final NodeEventLog assignments;
  private final NodeEventLog commands;
  private final StateListener listener;
  private final Clock clock;
  private final List<LongConsumer> cutters = new CopyOnWriteArrayList<>();
  private final LongAdder heartbeats = new LongAdder();
  private final LongAdder leaseExpiries = new LongAdder();
  private final List<Consumer<String>> registrationObservers = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> commandObservers = new CopyOnWriteArrayList<>();

  public NodeService(NodeDirectory nodes, LeaseDirectory leases, Registrar registrar, NodeEventLog assignments,
                     NodeEventLog commands, StateListener listener, Clock clock) {
    this.nodes = nodes;
    this.leases = leases;
    this.registrar = registrar;
    this.assignments = assignments;
    this.commands = commands;
    this.listener = listener;
    this.clock = clock;
  }

  /**
   * Also ends what a node holds open when it leaves (deregistered or revoked): its gRPC streams,
   * its held legacy poll. The one place streams are cut.
   */
  public void onLeave(LongConsumer cut) {
    cutters.add(cut);
  }

  /**
   * Another controller changed the node's record (seen through the store): a node that left there
   * loses what it holds open here too (its streams, its poll, its lease).
   */
  public void changedElsewhere(NodeRecord previous, NodeRecord node) {
    if (!node.state().live() && (previous == null || previous.state().live())) {
      LOG.info("node {} is {} (through another controller): {}", node.nodeId(), node.state().wire(), node.stateCause());
      leave(node.nodeId());
    }
  }

  // ---- the liveness rule ----

  /**
   * The one liveness rule: the node exists and has neither left nor been revoked (it may be
   * ready, draining or unreachable). Returns its record, or throws NOT_FOUND or
   * FAILED_PRECONDITION saying why not; the {@link NodeGate} turns that into UNAUTHENTICATED.
   */
  public NodeRecord live(long nodeId) {
    NodeRecord node = nodes.get(nodeId).orElseThrow(() -> ControlPlaneException.notFound(
        "node " + nodeId + " is not registered (never, or deregistered and collected)"));
    if (node.state().live()) {
      return node;
    }
    throw ControlPlaneException.failedPrecondition(node.state() == NodeState.QUARANTINED
        ? "node " + nodeId + " is quarantined: its certificate has been revoked"
        : "node " + nodeId + " has " + node.state().wire() + "; join again with a new bootstrap token");
  }

  /** {@link #live} for a worker's own call: a node that is not live has no valid credential. */
  NodeRecord liveForWorker(long nodeId) {
    try {
      return live(nodeId);
    } catch (ControlPlaneException notLive) {
      throw ControlPlaneException.unauthenticated(notLive.getMessage());
    }
  }

  // ---- calls of the node itself ----

  public Future<Registrar.Admission> register(Registrar.Application application) {
    return registrar.register(application).onComplete(ar -> {
      if (!registrationObservers.isEmpty()) {
        String result = ar.succeeded() ? "ok" : ControlPlaneException.of(ar.cause()).kind().name().toLowerCase(Locale.ROOT);
        registrationObservers.forEach(o -> o.accept(result));
      }
    });
  }

  /** Told each Register's result: {@code ok}, or the refusal's kind ({@code unauthenticated}, {@code invalid_argument}, ...). */
  public void onRegistration(Consumer<String> observer) {
    registrationObservers.add(observer);
  }

  /** Told the kind of each command written for a node ({@code drain}, {@code shutdown}, {@code push_config}). */
  public void onCommand(Consumer<String> observer) {
    commandObservers.add(observer);
  }

  void commandWritten(JsonObject command) {
    String kind = command.getString("kind", "unknown");
    commandObservers.forEach(o -> o.accept(kind));
  }

  /** Leases that expired so far (each marked its node unreachable). */
  public long leaseExpiries() {
    return leaseExpiries.sum();
  }

  /** Signs a new certificate for the node's CSR and makes it the node's current one. */
  public Future<WorkerCa.IssuedCertificate> renew(NodePrincipal node, byte[] csrDer) {
    long nodeId = node.nodeId();
    return registrar.renew(csrDer, nodeId).compose(cert -> nodes.update(nodeId, current ->
            current.withCertificate(cert.serialHex(), cert.sha256(), cert.notAfter().getEpochSecond())).map(cert))
        .onSuccess(cert -> LOG.info("node {} rotated its certificate (valid until {})", nodeId, cert.notAfter()));
  }

  /**
   * A status report arrived: renew the lease and return the next TTL. On every worker's
   * heartbeat path: a map lookup and a lease renewal, no store write unless the node comes back.
   */
  public int heartbeat(NodePrincipal principal, StatusReport report) {
    long nodeId = principal.nodeId();
    NodeRecord node = liveForWorker(nodeId); // a late report from a node that left renews nothing
    heartbeats.increment();
    int ttl = leases.renew(nodeId, clock.millis());
    nodes.recordStatus(nodeId, report);
    for (var result : report.getCommandResultsList()) {
      LOG.info("node {} command {} {}: {}", nodeId, result.getCommandId(),
          result.getOk() ? "applied" : "refused", result.getMessage());
    }
    if (node.state() == NodeState.UNREACHABLE) {
      // Back from silence: a node that was draining (its executor says so) stays draining.
      boolean draining = "draining".equals(report.getState());
      transition(nodeId, NodeState.UNREACHABLE::equals, draining ? NodeState.DRAINING : NodeState.READY,
          "heartbeat resumed");
    }
    return ttl;
  }

  /** Status reports received since start. */
  public long heartbeats() {
    return heartbeats.sum();
  }

  public Future<NodeRecord> deregister(NodePrincipal node, String reason) {
    return deregister(node.nodeId(), reason);
  }

  /** The node's assignment events after {@code revision}, then live ones, on the caller's context. */
  public Watch watchAssignments(NodePrincipal node, long revision, Handler<NodeEventLog.Entry> handler) {
    return assignments.watch(node.nodeId(), revision, handler);
  }

  /** The node's commands after {@code commandId}, then live ones, on the caller's context. */
  public Watch watchCommands(NodePrincipal node, long commandId, Handler<NodeEventLog.Entry> handler) {
    return commands.watch(node.nodeId(), commandId, handler);
  }

  /** The node's assignment events after {@code revision}, oldest first, one page (a legacy poll). */
  public Future<List<NodeEventLog.Entry>> assignmentsAfter(NodePrincipal node, long revision) {
    return assignments.after(node.nodeId(), revision);
  }

  /** The node's assignment events after {@code revision}, oldest first, at most {@code limit} (a paged replay). */
  public Future<List<NodeEventLog.Entry>> assignmentsAfter(NodePrincipal node, long revision, int limit) {
    return assignments.after(node.nodeId(), revision, limit);
  }

  /** The node's commands after {@code commandId}, oldest first, at most {@code limit} (a paged replay). */
  public Future<List<NodeEventLog.Entry>> commandsAfter(NodePrincipal node, long commandId, int limit) {
    return commands.after(node.nodeId(), commandId, limit);
  }

  /** The store's revision: what a client that is up to date has seen. */
  public Future<Long> currentRevision() {
    return assignments.currentRevision();
  }

  // ---- leases ----

  /** Gives every live node the failover TTL: after a (re)start nobody expires while workers reconnect. */
  public void grantFailoverLeases() {
    long now = clock.millis();
    int granted = 0;
    for (NodeRecord node : nodes.all()) {
      if (node.state().leased()) {
        leases.grantFailover(node.nodeId(), now);
        granted++;
      }
    }
    if (granted > 0) {
      LOG.info("gave {} live node(s) the failover TTL of {}s", granted, leases.ttl().failoverTtlSecs());
    }
  }

  /** Marks nodes whose lease expired unreachable; returns the expired leases. */
  public List<Lease> sweep() {
    return sweep(0);
  }

  /** {@link #sweep()}, counting a lease expired only {@code slackMs} after its time (the sweeper's own stalls). */
  public List<Lease> sweep(long slackMs) {
    List<Lease> expired = leases.takeExpired(clock.millis() - slackMs);
    leaseExpiries.add(expired.size());
    for (Lease lease : expired) {
      if (nodes.get(lease.nodeId()).isPresent()) {
        transition(lease.nodeId(), NodeState::leased, NodeState.UNREACHABLE,
            "lease expired: no heartbeat for " + (lease.ttlSecs() + lease.graceSecs()) + "s (ttl "
                + lease.ttlSecs() + "s + grace " + lease.graceSecs() + "s)");
      }
    }
    return expired;
  }

  // ---- operator changes ----

  /**
   * Drains a live node in one store transaction: its state, a drain event in its assignment log
   * and a drain command with the deadline in its command log. Returns the command id.
   */
  public Future<Long> drain(long nodeId, long deadlineSecs) {
    if (deadlineSecs < 0) {
      return Future.failedFuture(ControlPlaneException.invalidArgument("deadline_secs must not be negative"));
    }
    return nodes.write(nodeId, current -> {
          live(nodeId);
          return nodes.withState(current, NodeState.DRAINING, "drain requested (deadline " + deadlineSecs + "s)");
        }, List.of(assignments.newEntry(nodeId, Events.drain()),
            commands.newEntry(nodeId, Events.drainCommand(deadlineSecs))))
        .onSuccess(this::changed)
        .onSuccess(w -> {
          assignments.appended(nodeId);
          commands.appended(nodeId);
          commandWritten(Events.drainCommand(deadlineSecs));
        })
        .map(NodeDirectory.Written::revision);
  }

  /**
   * Makes a draining node ready again (Nomad's node eligibility), in one store transaction: its
   * state and an undrain event in its assignment log, on which its worker runs its services again.
   */
  public Future<NodeRecord> undrain(long nodeId) {
    return nodes.write(nodeId, current -> {
          if (current.state() != NodeState.DRAINING) {
            throw ControlPlaneException.failedPrecondition("node " + nodeId + " is " + current.state().wire()
                + ", not draining");
          }
          return nodes.withState(current, NodeState.READY, "undrain requested");
        }, List.of(assignments.newEntry(nodeId, Events.undrain())))
        .onSuccess(this::changed)
        .onSuccess(w -> assignments.appended(nodeId))
        .map(NodeDirectory.Written::record);
  }

  /**
   * Removes a node that will not come back, whatever its state (a revoked one too, so that it can
   * then be collected), unless it already left: its lease is dropped and what it holds open ends.
   */
  public Future<NodeRecord> deregister(long nodeId, String reason) {
    String cause = "deregistered" + (reason == null || reason.isBlank() ? "" : ": " + reason);
    return change(nodeId, current -> {
      if (current.state() == NodeState.DEREGISTERED) {
        throw ControlPlaneException.failedPrecondition("node " + nodeId + " is already deregistered");
      }
      return nodes.withState(current, NodeState.DEREGISTERED, cause);
    }).onSuccess(n -> leave(nodeId));
  }

  /** Quarantines a live node: its certificate is refused from now on and what it holds open ends. */
  public Future<NodeRecord> revoke(long nodeId) {
    return change(nodeId, current -> nodes.withState(live(nodeId), NodeState.QUARANTINED,
        "certificate " + current.certSha256() + " revoked")).onSuccess(n -> leave(nodeId));
  }

  /**
   * Forgets nodes deregistered at least {@code threshold} ago (zero: all of them), in memory and
   * in the store; returns their ids. Their event history stays and their ids are never reused.
   */
  public Future<List<Long>> collect(Duration threshold) {
    long deregisteredBy = threshold.isZero() ? Long.MAX_VALUE : clock.instant().minus(threshold).getEpochSecond();
    return nodes.collectDeregistered(deregisteredBy).onSuccess(ids -> {
      if (!ids.isEmpty()) {
        LOG.info("collected {} deregistered node(s){}", ids.size(),
            threshold.isZero() ? "" : " (left more than " + Durations.format(threshold) + " ago)");
      }
    });
  }

  // ---- internals ----

  private void leave(long nodeId) {
    leases.remove(nodeId);
    cutters.forEach(cut -> cut.accept(nodeId));
  }

  /**
   * Stores the node's record as {@code change} makes it from the current one (or refuses, by
   * throwing), inside the node's update queue: nothing changes it between the check and the write.
   */
  private Future<NodeRecord> change(long nodeId, java.util.function.UnaryOperator<NodeRecord> change) {
    return nodes.write(nodeId, change, List.of()).onSuccess(this::changed).map(NodeDirectory.Written::record);
  }

  /** Moves the node to {@code state} if it still is in a state {@code from} accepts when its turn comes. */
  private void transition(long nodeId, java.util.function.Predicate<NodeState> from, NodeState state, String cause) {
    nodes.write(nodeId, current -> from.test(current.state()) ? nodes.withState(current, state, cause) : current,
            List.of())
        .onSuccess(this::changed)
        .onFailure(e -> LOG.warn("node {} could not be marked {}: {}", nodeId, state.wire(), e.getMessage()));
  }

  private void changed(NodeDirectory.Written written) {
    NodeRecord node = written.record();
    if (written.previous().state() == node.state()) {
      return;
    }
    if (node.state() == NodeState.UNREACHABLE) {
      LOG.warn("node {} is unreachable: {}", node.nodeId(), node.stateCause());
    } else {
      LOG.info("node {} is {}: {}", node.nodeId(), node.state().wire(), node.stateCause());
    }
    listener.changed(node.nodeId(), node.state(), node.stateCause());
  }
}
