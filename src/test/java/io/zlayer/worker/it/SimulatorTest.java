package io.zlayer.worker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.sim.SimulationReport;
import io.zlayer.worker.sim.Simulator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small simulator run against an in-process controller: asserts correctness (every worker
 * registered and connected with its three streams, every assignment delivered, no error), not speed.
 */
class SimulatorTest {
  private static final int WORKERS = 300;
  private static final int WARMUP = 20;
  private static final int ASSIGNMENTS = 60;

  @TempDir
  Path dir;
  private Vertx vertx;
  private ControllerNode node;

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      TestCluster.await(node.stop(), Duration.ofSeconds(30));
    }
    if (vertx != null) {
      TestCluster.await(vertx.close(), Duration.ofSeconds(30));
    }
  }

  /** Runs the simulator against a fresh controller: a 1 s hold, then the assignments. */
  private SimulationReport simulate(int workers, double legacyFraction, int warmup, int assignments) throws Exception {
    vertx = Vertx.vertx();
    ControllerOptions options = TestCluster.controllerOptions(dir, new JsonObject());
    node = TestCluster.startController(vertx, options);
    String adminToken = Files.readString(options.dataDir().resolve(ControllerNode.ADMIN_TOKEN_FILE)).trim();
    Simulator.Settings d = Simulator.Settings.defaults(List.of(new HostPort("127.0.0.1", node.port())), workers);
    Simulator.Settings settings = new Simulator.Settings(
        new Simulator.Shape(d.shape().servers(), workers, legacyFraction, 0, warmup, d.shape().registerWindow(),
            d.shape().connectWindow(), 2, Duration.ofSeconds(60)),
        new Simulator.Phases(Duration.ofSeconds(1), assignments, Duration.ZERO, Duration.ZERO, Duration.ZERO,
            Duration.ZERO),
        Duration.ofSeconds(5), System.out);
    try (OperatorBridge bridge = new OperatorBridge("127.0.0.1", options.bridgePort(), adminToken)) {
      SimulationReport report = new Simulator(settings, bridge::request)
          .withMetrics(new HostPort("127.0.0.1", node.operatorPort()), adminToken).run();
      System.out.print(report.summary());
      return report;
    }
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void threeHundredWorkersRegisterConnectAndReceiveEveryAssignment() throws Exception {
    SimulationReport report = simulate(WORKERS, 0, WARMUP, ASSIGNMENTS);
    assertEquals(WORKERS, report.registered(), "registered");
    assertEquals(WORKERS, report.maxConnected(), "connected with all three streams");
    assertEquals(ASSIGNMENTS, report.assignmentsSent(), "assignments written");
    assertEquals(ASSIGNMENTS, report.assignmentsDelivered(), "assignments delivered");
    assertEquals(0, report.errors(), "errors: " + report.toJson().encode());
    assertEquals(WORKERS, node.controlPlane().leases().size(), "live leases on the controller");
    assertEquals(WORKERS, node.controlPlane().nodes().all().size(),
        "the warm-up's throwaway workers were deregistered and collected");
  }

  /** Half the fleet on the legacy HTTP API: held polls woken by assignments, through the same session. */
  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void aMixedFleetHoldsLegacyPollsAndWakesThem() throws Exception {
    int workers = 60;
    int assignments = 30;
    SimulationReport report = simulate(workers, 0.5, 0, assignments);
    JsonObject json = report.toJson();
    assertEquals(workers, report.maxConnected(), "connected: gRPC streams or a held legacy poll");
    assertEquals(30, json.getInteger("legacy_workers"));
    assertEquals(assignments, report.assignmentsSent() + json.getInteger("legacy_assignments_sent"));
    assertEquals(report.assignmentsSent(), report.assignmentsDelivered(), "gRPC assignments delivered");
    assertEquals(json.getInteger("legacy_assignments_sent"), json.getInteger("legacy_assignments_delivered"),
        "legacy polls woken");
    assertEquals(0, report.errors(), "errors: " + json.encode());
  }
}
