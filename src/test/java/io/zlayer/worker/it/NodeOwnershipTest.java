package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodePrincipal;
import io.zlayer.worker.controller.core.NodeState;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.store.etcd.EtcdServer;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.EtcdStoreOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Heartbeats stay on the controller a worker is connected to; only ownership is written to etcd;
 * a stopped controller's nodes are adopted by the leader with the failover TTL, and released
 * again when another controller takes them.
 */
@ExtendWith(VertxExtension.class)
class NodeOwnershipTest {
  private static final int WORKERS = 20;
  @TempDir
  Path dir;
  EtcdServer etcd;
  EtcdStore direct;
  final List<ControllerNode> controllers = new ArrayList<>();

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    etcd = new EtcdServer().start();
    for (int i = 1; i <= 3; i++) {
      Path ca = Files.createDirectories(dir.resolve("c" + i).resolve("ca"));
      if (i > 1) {
        for (String f : new String[] {WorkerCa.CA_CERT_FILE, WorkerCa.CA_KEY_FILE}) {
          Files.copy(dir.resolve("c1").resolve("ca").resolve(f), ca.resolve(f));
        }
      }
      controllers.add(TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
          .put("node_id", i).put("data_dir", dir.resolve("c" + i).toString())
          .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint()))))));
    }
    direct = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
  }

  @AfterEach
  void stop() throws Exception {
    await(direct.close());
    for (ControllerNode c : controllers) {
      await(c.stop());
    }
    etcd.close();
  }

  private static Future<Void> heartbeat(Vertx vertx, ControllerNode c, long nodeId) {
    Promise<Void> done = Promise.promise();
    vertx.runOnContext(v -> {
      c.controlPlane().nodeService().heartbeat(new NodePrincipal(nodeId, NodePrincipal.Credential.CERTIFICATE),
          StatusReport.newBuilder().setNodeId(nodeId).build());
      done.complete();
    });
    return done.future();
  }

  private static void until(Vertx vertx, String what, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
      await(TestCluster.delay(vertx, 20));
    }
  }

  private String owner(long nodeId) throws Exception {
    return await(direct.get("owners/" + nodeId)).map(kv -> kv.value()).orElse(null);
  }

  /** Until etcd names B (controller "2") the node's owner. */
  private void untilBOwns(Vertx vertx, long nodeId) throws Exception {
    until(vertx, "B owns node " + nodeId, () -> {
      try {
        return "2".equals(owner(nodeId));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
  }

  /** Registers a node with B, heartbeats it there once the leader knows it, and waits until B owns it. */
  private long registerOnB(Vertx vertx, ControllerNode leader, ControllerNode b) throws Exception {
    long x = RawWorker.register(vertx, b).nodeId();
    until(vertx, "the leader knows node " + x, () -> leader.controlPlane().nodes().get(x).isPresent());
    await(heartbeat(vertx, b, x));
    untilBOwns(vertx, x);
    return x;
  }

  @Test
  void heartbeatsStayInMemoryAndAStoppedControllersNodesAreAdoptedByTheLeader(Vertx vertx) throws Exception {
    ControllerNode leader = controllers.get(0);
    ControllerNode b = controllers.get(1);
    ControllerNode c = controllers.get(2);
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < WORKERS; i++) {
      ids.add(RawWorker.register(vertx, b).nodeId());
    }
    long x = ids.get(0);
    for (long id : ids) {
      until(vertx, "every controller knows node " + id, () -> controllers.stream()
          .allMatch(n -> n.controlPlane().nodes().get(id).isPresent()));
      await(heartbeat(vertx, b, id));
    }
    for (long id : ids) {
      untilBOwns(vertx, id); // ownerships are recorded in batches: wait for the last one
    }

    // Steady state: heartbeats every 100 ms from every worker; etcd's revision does not move.
    long before = await(direct.revision());
    long t0 = System.nanoTime();
    for (int round = 0; round < 20; round++) {
      for (long id : ids) {
        await(heartbeat(vertx, b, id));
      }
      await(TestCluster.delay(vertx, 100));
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    long writes = await(direct.revision()) - before;
    System.out.printf("node-ownership: %d workers, %d heartbeats in %.1f s: %d etcd writes (%.2f writes/s)%n",
        WORKERS, WORKERS * 20, secs, writes, writes / secs);
    assertEquals(0, writes, "no etcd write per heartbeat");
    assertTrue(leader.controlPlane().leases().get(x).isEmpty(), "only the node's controller holds its lease");

    // B stops: its etcd lease goes with its ownership; the leader gives its nodes the failover TTL.
    await(controllers.remove(1).stop());
    int failover = leader.controlPlane().leases().ttl().failoverTtlSecs();
    until(vertx, "the leader adopts node " + x, () -> leader.controlPlane().leases().get(x)
        .map(l -> l.ttlSecs() == failover).orElse(false));

    // The worker reconnects to C: C owns it, the leader lets go of it.
    await(heartbeat(vertx, c, x));
    until(vertx, "the leader releases node " + x, () -> leader.controlPlane().leases().get(x).isEmpty());
    assertEquals("3", owner(x));
    assertEquals(NodeState.READY, c.controlPlane().nodes().get(x).orElseThrow().state());
    assertEquals(0, leader.controlPlane().nodeService().sweep().size(), "nobody expired");
  }

  @Test
  void aKilledLeadersNodesAreAdoptedByTheNextLeaderWithin5Seconds(Vertx vertx) throws Exception {
    ControllerNode killed = controllers.get(0);
    long x = RawWorker.register(vertx, killed).nodeId();
    await(heartbeat(vertx, killed, x));
    until(vertx, "the leader owns node " + x, () -> { try { return "1".equals(owner(x)); } catch (Exception e) { throw new AssertionError(e); } });
    for (ControllerNode c : controllers) {
      until(vertx, "every controller knows node " + x, () -> c.controlPlane().nodes().get(x).isPresent());
    }

    // As kill -9: the lease is neither renewed nor revoked; etcd expires it.
    killed.registry().abandon();
    long t0 = System.nanoTime();
    await(controllers.remove(0).stop());
    int failover = controllers.get(0).controlPlane().leases().ttl().failoverTtlSecs();
    until(vertx, "another controller leads and adopts node " + x, () -> controllers.stream().anyMatch(c ->
        c.registry().leading() && c.controlPlane().leases().get(x).map(l -> l.ttlSecs() == failover).orElse(false)));
    long takeoverMs = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf("node-ownership: leader killed: another leads and adopted its node after %d ms%n", takeoverMs);
    assertTrue(takeoverMs < 5000, "takeover after " + takeoverMs + " ms");
    for (ControllerNode c : controllers) {
      assertEquals(NodeState.READY, c.controlPlane().nodes().get(x).orElseThrow().state());
    }
  }

  @Test
  void aControllerThatLostItsEtcdLeaseRegistersAgainAndRecordsItsNodes(Vertx vertx) throws Exception {
    ControllerNode leader = controllers.get(0);
    ControllerNode b = controllers.get(1);
    long x = registerOnB(vertx, leader, b);

    long lost = b.registry().leaseId();
    await(direct.leases().revoke(lost)); // as after a partition longer than the lease
    until(vertx, "B registers again and owns node " + x + " again", () -> {
      try {
        return b.registry().leaseId() != lost && "2".equals(owner(x)) && await(b.controllers()).size() == 3;
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    until(vertx, "the leader lets go of node " + x, () -> leader.controlPlane().leases().get(x).isEmpty());
    assertEquals(NodeState.READY, leader.controlPlane().nodes().get(x).orElseThrow().state());
  }

  @Test
  void aControllerThatLostItsOwnershipLeaseRecordsItsNodesAgainUnderANewOne(Vertx vertx) throws Exception {
    ControllerNode leader = controllers.get(0);
    ControllerNode b = controllers.get(1);
    long x = registerOnB(vertx, leader, b);

    long registration = b.registry().leaseId();
    long lost = b.ownership().leaseId();
    await(direct.leases().revoke(lost)); // as after a stall longer than the ownership lease
    until(vertx, "B records node " + x + " again under a new ownership lease", () -> {
      try {
        long now = b.ownership().leaseId();
        return now != 0 && now != lost && "2".equals(owner(x));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    assertEquals(registration, b.registry().leaseId(), "its registration (and leadership lease) is untouched");
    until(vertx, "the leader lets go of node " + x, () -> leader.controlPlane().leases().get(x).isEmpty());
    assertEquals(NodeState.READY, leader.controlPlane().nodes().get(x).orElseThrow().state());
    assertTrue(b.controlPlane().leases().get(x).isPresent(), "B still sweeps node " + x);
  }
}
