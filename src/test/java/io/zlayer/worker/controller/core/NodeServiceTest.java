package io.zlayer.worker.controller.core;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.store.EmbeddedStore;
import io.zlayer.worker.store.KeyValue;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node rules on a real store with a clock the test moves: lease expiry, collection after
 * node_gc_threshold, certificate expiry at the gate, the liveness rule, drain in one transaction,
 * undrain, and what a draining or revoked node may do. Nothing here waits for time to pass.
 */
@ExtendWith(VertxExtension.class)
class NodeServiceTest {
  private static final AdaptiveTtl TTL = new AdaptiveTtl(10, 600, 10, 50, 300);

  @TempDir
  Path dir;
  private final MovableClock clock = new MovableClock(Instant.parse("2026-01-01T00:00:00Z"));
  private EmbeddedStore store;
  private WorkerCa ca;
  private NodeDirectory nodes;
  private LeaseDirectory leases;
  private NodeEventLog assignments;
  private NodeEventLog commands;
  private NodeService service;
  private NodeGate gate;
  private NodeOrders orders;
  private final List<String> changes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final List<Long> cut = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    store = await(EmbeddedStore.open(vertx, dir.resolve("store")));
    ca = WorkerCa.loadOrCreate(dir.resolve("ca"), "ctest", clock);
    nodes = new NodeDirectory(store, clock);
    leases = new LeaseDirectory(TTL);
    assignments = new NodeEventLog(store, "assignment-log", AssignmentFold.INSTANCE, NodeEventLog.DEFAULT_WINDOW);
    commands = new NodeEventLog(store, "command-log", CommandFold.INSTANCE, NodeEventLog.DEFAULT_WINDOW);
    TokenService tokens = new TokenService(store, "ctest", ca.caSha256(), clock);
    Registrar registrar = new Registrar(vertx, store, tokens, ca, nodes, leases, Duration.ofDays(30), clock);
    service = new NodeService(nodes, leases, registrar, assignments, commands,
        (id, state, cause) -> changes.add(id + " " + state.wire()), clock);
    service.onLeave(cut::add);
    gate = new NodeGate("ctest", nodes, service, clock);
    orders = new NodeOrders(service, nodes, assignments, commands);
  }

  @AfterEach
  void stop() throws Exception {
    await(store.close());
  }

  /** A registered gRPC node with a real certificate from the test CA, its lease granted now. */
  private X509Certificate node(long id) throws Exception {
    X509Certificate cert = ca.signWorkerCertificate(WorkerKeys.generateP256().getPublic(), id, Duration.ofDays(30));
    long now = clock.instant().getEpochSecond();
    NodeRecord record = new NodeRecord(id, NodeState.READY, new JsonObject().put("os", "linux").put("arch", "x86_64"),
        cert.getSerialNumber().toString(16), io.zlayer.worker.pki.Fingerprints.certificateSha256(cert),
        cert.getNotAfter().toInstant().getEpochSecond(), now, "grpc", "registered", null, null, now);
    await(store.put(record.key(), record.toJson().encode()));
    nodes.cache(record);
    leases.renew(id, clock.millis());
    return cert;
  }

  private NodeState state(long id) {
    return nodes.get(id).orElseThrow().state();
  }

  private static ControlPlaneException.Kind refusal(org.junit.jupiter.api.function.Executable call) {
    Throwable e = assertThrows(Throwable.class, call);
    assertTrue(e instanceof ControlPlaneException, "a typed refusal: " + e);
    return ((ControlPlaneException) e).kind();
  }

  @Test
  void aLeaseExpiresOnlyPastTtlPlusGraceAndAHeartbeatBringsTheNodeBack() throws Exception {
    node(1);
    int ttl = leases.get(1).orElseThrow().ttlSecs();
    clock.advance(Duration.ofSeconds(ttl + TTL.graceSecs()));
    assertTrue(service.sweep().isEmpty(), "at exactly ttl + grace the lease still holds");
    clock.advance(Duration.ofMillis(1));
    assertEquals(1, service.sweep().size());
    await(nodes.update(1, n -> n)); // queued behind the sweep's write: completes after it
    assertEquals(NodeState.UNREACHABLE, state(1));

    service.heartbeat(new NodePrincipal(1, NodePrincipal.Credential.CERTIFICATE), StatusReport.newBuilder().setNodeId(1).build());
    await(nodes.update(1, n -> n));
    assertEquals(NodeState.READY, state(1));
    assertEquals("1 unreachable", changes.get(0));
  }

  @Test
  void afterARestartEveryLeasedNodeHasTheFailoverTtlBeforeItCanExpire() throws Exception {
    node(1);
    leases.remove(1); // as after a restart: records loaded, no lease yet
    service.grantFailoverLeases();
    clock.advance(Duration.ofSeconds(TTL.failoverTtlSecs() + TTL.graceSecs()));
    assertTrue(service.sweep().isEmpty(), "no node expires within the failover TTL + grace");
    clock.advance(Duration.ofSeconds(1));
    assertEquals(1, service.sweep().size());
  }

  @Test
  void deregisteredNodesAreCollectedOnlyOnceTheThresholdHasPassed() throws Exception {
    node(1);
    node(2);
    await(service.deregister(1, "gone"));
    assertEquals(List.of(1L), cut, "leaving cuts what the node holds open");
    clock.advance(Duration.ofMinutes(59));
    assertEquals(List.of(), await(service.collect(Duration.ofHours(1))));
    clock.advance(Duration.ofMinutes(2));
    assertEquals(List.of(1L), await(service.collect(Duration.ofHours(1))));
    assertTrue(nodes.get(1).isEmpty());
    assertEquals(NodeState.READY, state(2), "a live node is never collected");
  }

  @Test
  void theGateRefusesAnExpiredCertificateByTheClockAndBindsTheNodeId() throws Exception {
    X509Certificate cert = node(7);
    assertEquals(7, gate.certificate(cert).actingAs(7).nodeId());
    assertEquals(ControlPlaneException.Kind.PERMISSION_DENIED, refusal(() -> gate.certificate(cert).actingAs(8)));
    clock.set(cert.getNotAfter().toInstant().plusSeconds(1));
    ControlPlaneException e = assertThrows(ControlPlaneException.class, () -> gate.certificate(cert));
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, e.kind());
    assertTrue(e.getMessage().contains("has expired"), e.getMessage());
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, refusal(() -> gate.certificate(null)));
  }

  @Test
  void certificatesAreIssuedAndRenewedByTheControllersClock() throws Exception {
    clock.set(Instant.parse("2026-03-01T12:00:00Z"));
    X509Certificate first = node(4);
    assertEquals(Instant.parse("2026-03-01T11:59:00Z"), first.getNotBefore().toInstant(), "backdated by the skew allowance");
    assertEquals(Instant.parse("2026-03-31T12:00:00Z"), first.getNotAfter().toInstant());
    clock.advance(Duration.ofDays(20));
    java.security.KeyPair keys = WorkerKeys.generateP256();
    WorkerCa.IssuedCertificate renewed = await(service.renew(gate.certificate(first).actingAs(4),
        WorkerKeys.createCsr(keys, io.zlayer.worker.pki.NodeIdentity.commonName(4))));
    X509Certificate second = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
        .generateCertificate(new java.io.ByteArrayInputStream(renewed.der()));
    assertEquals(Instant.parse("2026-03-21T11:59:00Z"), second.getNotBefore().toInstant());
    assertEquals(Instant.parse("2026-04-20T12:00:00Z"), second.getNotAfter().toInstant());
    assertEquals(second.getNotAfter().toInstant().getEpochSecond(), nodes.get(4).orElseThrow().certNotAfter(),
        "the node record follows the renewal");
    assertTrue(ca.issued(first) && ca.issued(second));
    clock.set(Instant.parse("2026-04-01T00:00:00Z")); // the first has expired by the clock, not the second
    assertFalse(ca.issued(first), "the CA judges validity by the controller's clock");
    assertTrue(ca.issued(second));
    assertEquals(4, gate.certificate(second).actingAs(4).nodeId());
  }

  @Test
  void theGateProvesALegacyWorkerByItsInternalTokenOnlyWhileItIsLive() throws Exception {
    String token = InternalTokens.mint();
    long now = clock.instant().getEpochSecond();
    NodeRecord record = new NodeRecord(9, NodeState.READY, new JsonObject(), null, null, 0, now, "http", "registered",
        InternalTokens.sha256(token), null, now);
    await(store.put(record.key(), record.toJson().encode()));
    nodes.cache(record);
    assertEquals(new NodePrincipal(9, NodePrincipal.Credential.INTERNAL_TOKEN), gate.internalToken(9, token));
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, refusal(() -> gate.internalToken(9, "wrong")));
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, refusal(() -> gate.internalToken(9, null)));
    assertEquals(ControlPlaneException.Kind.NOT_FOUND, refusal(() -> gate.internalToken(10, token)));
    await(service.deregister(9, "left"));
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, refusal(() -> gate.internalToken(9, token)));
  }

  @Test
  void oneLivenessRuleForOperatorsAndWorkers() throws Exception {
    X509Certificate cert = node(3);
    assertEquals(ControlPlaneException.Kind.NOT_FOUND, refusal(() -> service.live(99)));
    await(service.revoke(3));
    assertEquals(ControlPlaneException.Kind.FAILED_PRECONDITION, refusal(() -> service.live(3)));
    ControlPlaneException atGate = assertThrows(ControlPlaneException.class, () -> gate.certificate(cert));
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, atGate.kind());
    assertTrue(atGate.getMessage().contains("revoked"), atGate.getMessage());
    assertEquals(ControlPlaneException.Kind.UNAUTHENTICATED, refusal(() -> service.heartbeat(
        new NodePrincipal(3, NodePrincipal.Credential.CERTIFICATE), StatusReport.getDefaultInstance())));
    assertEquals(ControlPlaneException.Kind.FAILED_PRECONDITION,
        refusal(() -> await(orders.command(3, new JsonObject().put("kind", "shutdown")))));
  }

  @Test
  void aRevokedNodeCanBeDeregisteredAndCollected() throws Exception {
    node(4);
    await(service.revoke(4));
    assertEquals(NodeState.QUARANTINED, state(4));
    assertEquals(NodeState.DEREGISTERED, await(service.deregister(4, "revoked and retired")).state());
    assertEquals(ControlPlaneException.Kind.FAILED_PRECONDITION, refusal(() -> await(service.deregister(4, "again"))));
    assertEquals(List.of(4L), await(service.collect(Duration.ZERO)));
  }

  @Test
  void drainIsOneTransactionAndADrainingNodeTakesNoNewAssignmentUntilUndrained() throws Exception {
    node(5);
    long before = await(store.revision());
    long commandId = await(service.drain(5, 30));
    assertEquals(before + 1, await(store.revision()), "state, drain event and drain command: one revision");
    assertEquals(commandId, await(store.get(NodeRecord.key(5))).map(KeyValue::modRevision).orElseThrow());
    assertEquals(NodeState.DRAINING, state(5));
    List<NodeEventLog.Entry> events = await(assignments.history(5));
    assertEquals("drain", events.get(events.size() - 1).body().getString("kind"));
    assertEquals(commandId, events.get(events.size() - 1).revision());
    assertEquals(30, await(commands.history(5)).get(0).body().getInteger("deadline_secs"));

    JsonArray replicas = new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0)));
    JsonObject spec = new JsonObject().put("command", "true");
    assertEquals(ControlPlaneException.Kind.FAILED_PRECONDITION, refusal(() -> await(orders.assign(5, "web", replicas, spec))));
    assertEquals(NodeState.READY, await(service.undrain(5)).state());
    assertEquals(ControlPlaneException.Kind.FAILED_PRECONDITION, refusal(() -> await(service.undrain(5))));
    assertTrue(await(orders.assign(5, "web", replicas, spec)) > commandId);
    assertEquals(List.of("5 draining", "5 ready"), changes);
  }

  @Test
  void unassignOfAServiceTheNodeDoesNotHaveIsNotFound() throws Exception {
    node(6);
    JsonArray replicas = new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0)));
    await(orders.assign(6, "web", replicas, new JsonObject().put("command", "true")));
    assertEquals(ControlPlaneException.Kind.NOT_FOUND, refusal(() -> await(orders.unassign(6, "api"))));
    await(orders.unassign(6, "web"));
    assertEquals(ControlPlaneException.Kind.NOT_FOUND, refusal(() -> await(orders.unassign(6, "web"))));
  }

  /** A clock the test sets and moves. */
  static final class MovableClock extends Clock {
    private volatile Instant now;

    MovableClock(Instant start) {
      this.now = start;
    }

    void advance(Duration by) {
      now = now.plus(by);
    }

    void set(Instant to) {
      now = to;
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
