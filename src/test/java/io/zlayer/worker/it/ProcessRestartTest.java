package io.zlayer.worker.it;

import static io.zlayer.worker.it.Processes.awaitBridge;
import static io.zlayer.worker.it.Processes.awaitNodes;
import static io.zlayer.worker.it.Processes.container;
import static io.zlayer.worker.it.Processes.node;
import static io.zlayer.worker.it.Processes.pgrep;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end with real processes: the controller ({@code Main controller}) and the worker
 * ({@code Main start}) run as child JVMs, are killed with SIGKILL and restarted; the test
 * operates them through the operator CLI ({@code token create}, {@code assign}, {@code nodes},
 * {@code shutdown}) and polls the controller's operator bridge for state.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessRestartTest {
  private static final Duration START = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(30);

  @TempDir
  Path dir;

  Processes procs;
  /** The worker process started by {@link #joinWorker}. */
  Process workerProcess;

  /** On failure, print every child's output (before @AfterEach kills them and the temp dir goes). */
  @RegisterExtension
  final AfterTestExecutionCallback dumpOnFailure = Processes.dumpLogsOnFailure(() -> procs);

  @BeforeEach
  void setUp() {
    procs = new Processes(dir);
  }

  @AfterEach
  void tearDown() throws Exception {
    procs.close();
  }

  /** Controller up, token minted with the CLI, worker started and ready; returns the node id. */
  private long joinWorker(Processes.ControllerConfig controller, Processes.WorkerConfig worker) throws Exception {
    String token = procs.cli("token", "create", "-c", controller.file.toString()).requireOk().stdout().trim();
    assertFalse(token.isEmpty(), "token create printed a token");
    Processes.writeToken(worker, token);
    workerProcess = procs.worker(worker);
    JsonArray nodes = awaitNodes(controller, START, "the worker to join and report",
        ns -> ns.size() == 1 && "ready".equals(ns.getJsonObject(0).getString("state"))
            && ns.getJsonObject(0).containsKey("containers"));
    return nodes.getJsonObject(0).getLong("node_id");
  }

  /** The CLI's own view, to prove {@code nodes --json} works end to end. */
  private JsonObject cliNode(Processes.ControllerConfig controller, long nodeId) throws Exception {
    String out = procs.cli("nodes", "--json", "-c", controller.file.toString()).requireOk().stdout();
    return node(new JsonObject(out).getJsonArray("nodes"), nodeId)
        .orElseThrow(() -> new AssertionError("nodes --json lacks node " + nodeId + ":\n" + out));
  }

  /** Assigns svc/0, a `sleep` tagged with a fresh marker, to the node and waits until it runs; the marker. */
  private String runSleeper(Processes.ControllerConfig controller, long nodeId) throws Exception {
    String marker = procs.marker("svc");
    procs.cli("assign", "-c", controller.file.toString(), Long.toString(nodeId), "svc", "--indices", "0",
        "--command", "sleep 1000 # " + marker).requireOk();
    awaitNodes(controller, CONVERGE, "svc/0 to run", ns -> running(ns, nodeId, "svc"));
    return marker;
  }

  private static boolean running(JsonArray nodes, long nodeId, String service) {
    return node(nodes, nodeId).flatMap(n -> container(n, service, 0))
        .filter(c -> "running".equals(c.getString("state")) && c.getLong("pid", 0L) > 0).isPresent();
  }

  private static long pid(JsonArray nodes, long nodeId, String service) {
    return node(nodes, nodeId).flatMap(n -> container(n, service, 0)).orElseThrow().getLong("pid");
  }

  private static String pretty(JsonArray nodes) {
    return new JsonObject().put("nodes", nodes).encodePrettily();
  }

  @Test
  void controllerKill9AndRestart() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s");
    Process first = procs.controller(controller);
    awaitBridge(controller, first, START);
    long nodeId = joinWorker(controller, worker);

    // An assignment made before the kill, through the CLI.
    String preMarker = procs.marker("pre");
    procs.cli("assign", "-c", controller.file.toString(), Long.toString(nodeId), "pre", "--indices", "0",
        "--command", "sleep 1000 # " + preMarker).requireOk();
    JsonArray before = awaitNodes(controller, CONVERGE, "pre/0 to run", ns -> running(ns, nodeId, "pre"));
    long prePid = pid(before, nodeId, "pre");
    assertEquals(List.of(prePid), pgrep(preMarker), "exactly one pre process, the one reported");
    assertEquals("running", container(cliNode(controller, nodeId), "pre", 0).orElseThrow().getString("state"),
        "nodes --json shows pre/0 running");

    // kill -9 the controller; the worker keeps running.
    Processes.kill9(first);

    // Restart it, and assign as soon as its bridge answers (the worker is still backing off).
    long restartedAt = System.nanoTime();
    Process second = procs.controller(controller);
    awaitBridge(controller, second, START);
    long upAt = System.nanoTime();
    String webMarker = procs.marker("web");
    JsonObject assigned = Processes.bridge(controller, Addresses.OPERATOR_ASSIGN, new JsonObject()
        .put("node_id", nodeId).put("service", "web").put("role", "default")
        .put("indices", new JsonArray().add(0)).put("command", "sleep 1000 # " + webMarker)
        .put("env", new JsonObject()));
    assertTrue(assigned.getLong("revision", 0L) > 0, "assign answered a revision: " + assigned);
    // The node's last status lives in the controller's memory only: no "containers" until the worker reports.
    boolean workerBackYet = node(Processes.nodes(controller), nodeId).orElseThrow().containsKey("containers");

    // The worker reconnects: its first report reaches the restarted controller.
    JsonArray reconnected = awaitNodes(controller, CONVERGE, 50, "the worker to report to the restarted controller",
        ns -> node(ns, nodeId).map(n -> n.containsKey("containers")).orElse(false));
    long reconnectedAt = System.nanoTime();
    System.out.printf("controllerKill9AndRestart: controller restart-to-worker-reconnect %d ms "
            + "(bridge up after %d ms; web assigned %s the worker reconnected)%n",
        TimeUnit.NANOSECONDS.toMillis(reconnectedAt - restartedAt), TimeUnit.NANOSECONDS.toMillis(upAt - restartedAt),
        workerBackYet ? "after" : "before");
    assertEquals("ready", node(reconnected, nodeId).orElseThrow().getString("state"), pretty(reconnected));

    // web/0 runs, exactly once; pre/0 is the same process as before the kill.
    JsonArray converged = awaitNodes(controller, CONVERGE, "web/0 and pre/0 running after the reconnect",
        ns -> running(ns, nodeId, "web") && running(ns, nodeId, "pre"));
    long webPid = pid(converged, nodeId, "web");
    assertEquals(List.of(webPid), pgrep(webMarker), "exactly one web process, the one reported:\n" + pretty(converged));
    assertEquals(List.of(prePid), pgrep(preMarker), "pre still runs exactly once, not restarted:\n" + pretty(converged));
    assertEquals(prePid, pid(converged, nodeId, "pre"), "pre/0 keeps its pid:\n" + pretty(converged));
    assertEquals(0, container(node(converged, nodeId).orElseThrow(), "pre", 0).orElseThrow().getInteger("restarts"),
        "pre/0 never restarted:\n" + pretty(converged));

    // Heartbeats keep flowing (two more renewals) and the node stays ready throughout.
    String[] seen = {node(converged, nodeId).orElseThrow().getString("last_heartbeat")};
    int[] renewals = {0};
    JsonArray later = awaitNodes(controller, CONVERGE, "two more heartbeats", ns -> {
      JsonObject n = node(ns, nodeId).orElseThrow();
      if (!"ready".equals(n.getString("state"))) {
        throw new AssertionError("node left ready after the controller restart:\n" + pretty(ns));
      }
      String hb = n.getString("last_heartbeat");
      if (hb != null && !hb.equals(seen[0])) {
        seen[0] = hb;
        renewals[0]++;
      }
      return renewals[0] >= 2;
    });
    JsonObject view = cliNode(controller, nodeId);
    assertEquals("ready", view.getString("state"), view.encodePrettily());
    Instant lastHeartbeat = Instant.parse(view.getString("last_heartbeat"));
    assertTrue(Duration.between(lastHeartbeat, Instant.now()).abs().compareTo(Duration.ofSeconds(5)) < 0,
        "last_heartbeat is recent: " + view.encodePrettily());
    assertEquals("running", container(view, "web", 0).orElseThrow().getString("state"), view.encodePrettily());
    assertEquals(1, later.size(), pretty(later));
    assertEquals(List.of(webPid), pgrep(webMarker), "still exactly one web process");
    assertEquals(List.of(prePid), pgrep(preMarker), "still exactly one pre process");
    String controllerOutput = procs.output("controller");
    assertFalse(controllerOutput.contains("is unreachable"), "the node was never marked unreachable:\n" + controllerOutput);
  }

  @Test
  void workerKill9IsMarkedUnreachableThenRecovers() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s");
    awaitBridge(controller, procs.controller(controller), START);
    long nodeId = joinWorker(controller, worker);

    // Wait for a heartbeat renewal at the adaptive TTL, so the kill lands in the steady cadence.
    String firstBeat = node(Processes.nodes(controller), nodeId).orElseThrow().getString("last_heartbeat");
    JsonArray steady = awaitNodes(controller, CONVERGE, "a heartbeat renewal",
        ns -> node(ns, nodeId).map(n -> !n.getString("last_heartbeat", "").equals(firstBeat)).orElse(false));
    JsonObject lease = node(steady, nodeId).orElseThrow();
    int ttl = lease.getInteger("ttl_secs");
    int grace = 2;
    assertEquals(2, ttl, "TTL of a single worker is heartbeat_min_ttl: " + lease.encodePrettily());

    long killedAt = System.nanoTime();
    Processes.kill9(workerProcess);
    awaitNodes(controller, Duration.ofSeconds(ttl + grace + 15), 50, "the node to become unreachable",
        ns -> node(ns, nodeId).map(n -> "unreachable".equals(n.getString("state"))).orElse(false));
    long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    System.out.printf("workerKill9IsMarkedUnreachableThenRecovers: kill-to-unreachable %d ms (ttl %ds + grace %ds)%n",
        elapsedMs, ttl, grace);
    assertTrue(elapsedMs >= (ttl + grace - 1) * 1000L && elapsedMs <= (ttl + grace + 5) * 1000L,
        "kill-to-unreachable " + elapsedMs + " ms is within [ttl+grace-1s, ttl+grace+5s]");
    assertTrue(procs.output("controller").contains("node " + nodeId + " is unreachable"), "the controller logged it");

    // Restart with the same config and no token: the persisted identity is reused.
    Files.deleteIfExists(worker.tokenFile());
    long restartedAt = System.nanoTime();
    procs.worker(worker);
    JsonArray back = awaitNodes(controller, START, "the same node to be ready again",
        ns -> node(ns, nodeId).map(n -> "ready".equals(n.getString("state"))).orElse(false));
    System.out.printf("workerKill9IsMarkedUnreachableThenRecovers: worker restart-to-ready %d ms%n",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartedAt));
    assertEquals(1, back.size(), "no second node registered:\n" + pretty(back));
    JsonObject view = cliNode(controller, nodeId);
    assertEquals("ready", view.getString("state"), view.encodePrettily());
  }

  @Test
  void shutdownCommandDeregistersAndWorkerExitsZero() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s");
    awaitBridge(controller, procs.controller(controller), START);
    long nodeId = joinWorker(controller, worker);

    String marker = runSleeper(controller, nodeId);
    assertEquals(1, pgrep(marker).size(), "one svc process");

    procs.cli("shutdown", "-c", controller.file.toString(), Long.toString(nodeId)).requireOk();
    assertTrue(workerProcess.waitFor(15, TimeUnit.SECONDS), "the worker exits within 15 s of the shutdown command");
    assertEquals(0, workerProcess.exitValue(), "the worker exits 0");
    JsonArray after = awaitNodes(controller, CONVERGE, "the node to show deregistered",
        ns -> node(ns, nodeId).map(n -> "deregistered".equals(n.getString("state"))).orElse(false));
    assertEquals(1, after.size(), pretty(after));
    assertEquals("deregistered", cliNode(controller, nodeId).getString("state"));
    // The worker stopped its replica on the way out.
    assertEquals(List.of(), pgrep(marker), "the worker stopped svc/0 before exiting");
    assertNoErrorLogged("worker");
  }

  @Test
  void sigtermStopsTheAgentOnlyAndTheNextStartAdoptsTheWorkload() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s");
    awaitBridge(controller, procs.controller(controller), START);
    long nodeId = joinWorker(controller, worker);
    String marker = procs.marker("svc");
    procs.cli("assign", "-c", controller.file.toString(), Long.toString(nodeId), "svc", "--indices", "0",
        "--command", "while :; do echo tick; sleep 0.1; done # " + marker).requireOk();
    long pid = pid(awaitNodes(controller, CONVERGE, "svc/0 to run", ns -> running(ns, nodeId, "svc")), nodeId, "svc");
    assertEquals(List.of(pid), pgrep(marker), "one svc process, the one reported");

    workerProcess.destroy(); // SIGTERM, as systemd would send
    assertTrue(workerProcess.waitFor(20, TimeUnit.SECONDS), "the worker exits after SIGTERM");
    assertEquals(List.of(pid), pgrep(marker), "the workload outlives the agent");
    assertTrue(Files.exists(worker.dataDir.resolve("identity").resolve("cert.pem")), "the identity is kept");
    JsonArray away = awaitNodes(controller, CONVERGE, "the node to turn unreachable (its lease ran out)",
        ns -> node(ns, nodeId).map(n -> "unreachable".equals(n.getString("state"))).orElse(false));
    assertEquals(1, away.size(), pretty(away));
    Path log = worker.dataDir.resolve("logs").resolve("svc-default-0.log");
    long sizeWhileAway = Files.size(log);

    // Start again with no token: the same node, the same process, one copy.
    Files.deleteIfExists(worker.tokenFile());
    procs.worker(worker);
    JsonArray back = awaitNodes(controller, START, "the same node ready again, reporting svc/0",
        ns -> node(ns, nodeId).map(n -> "ready".equals(n.getString("state"))).orElse(false) && running(ns, nodeId, "svc"));
    assertEquals(1, back.size(), "no second node registered:\n" + pretty(back));
    assertEquals(pid, pid(back, nodeId, "svc"), "svc/0 adopted, not restarted:\n" + pretty(back));
    assertEquals(0, container(node(back, nodeId).orElseThrow(), "svc", 0).orElseThrow().getInteger("restarts"));
    assertEquals(List.of(pid), pgrep(marker), "exactly one copy of svc/0");
    assertTrue(Files.size(log) > sizeWhileAway, "the workload kept writing to its log file");
    assertTrue(procs.output("worker").contains("adopted service=svc role=default replica=0 pid=" + pid),
        "the second run logged the adoption");
  }

  @Test
  void leaveDeregistersStopsTheWorkloadsAndExitsZero() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s",
        "bridge_port: " + TestCluster.freePort());
    awaitBridge(controller, procs.controller(controller), START);
    long nodeId = joinWorker(controller, worker);
    String marker = runSleeper(controller, nodeId);
    assertEquals(1, pgrep(marker).size(), "one svc process");

    Processes.CliResult left = procs.cli("leave", "-c", worker.file.toString()).requireOk();
    assertTrue(left.stdout().contains("node " + nodeId + " deregistered"), left.stdout());
    assertEquals(List.of(), pgrep(marker), "the workload stopped before the agent confirmed");
    assertTrue(workerProcess.waitFor(15, TimeUnit.SECONDS), "the agent exits after leaving");
    assertEquals(0, workerProcess.exitValue(), "the agent exits 0");
    JsonArray after = Processes.nodes(controller);
    assertEquals("deregistered", node(after, nodeId).orElseThrow().getString("state"), pretty(after));
    assertFalse(Files.exists(worker.dataDir.resolve("identity").resolve("cert.pem")),
        "the identity is deleted: joining again needs a new token");
    assertNoErrorLogged("worker");

    // No agent any more: a clear error, not a stack trace.
    Processes.CliResult none = procs.cli("leave", "-c", worker.file.toString());
    assertEquals(2, none.exitCode(), none.stderr());
    assertTrue(none.stderr().contains("is it running?"), none.stderr());
  }

  @Test
  void leaveOnTerminateDeregistersOnSigterm() throws Exception {
    Processes.ControllerConfig controller = procs.controllerConfig("controller", "2s", "2s", "30s");
    Processes.WorkerConfig worker = procs.workerConfig("worker", controller, "2s", "2s",
        "bridge_port: -1", "leave_on_terminate: true");
    awaitBridge(controller, procs.controller(controller), START);
    long nodeId = joinWorker(controller, worker);
    String marker = runSleeper(controller, nodeId);

    workerProcess.destroy(); // SIGTERM
    assertTrue(workerProcess.waitFor(20, TimeUnit.SECONDS), "the worker exits after SIGTERM");
    JsonArray after = awaitNodes(controller, CONVERGE, "the node to show deregistered",
        ns -> node(ns, nodeId).map(n -> "deregistered".equals(n.getString("state"))).orElse(false));
    assertEquals(1, after.size(), pretty(after));
    assertFalse(Files.exists(worker.dataDir.resolve("identity").resolve("cert.pem")),
        "the identity is forgotten: joining again needs a new token");
    assertEquals(List.of(), pgrep(marker), "the workload is stopped");
    assertNoErrorLogged("worker");
  }

  /** A clean stop logs no ERROR (Netty's "ConnectionBase - <missing-log-message>" was one). */
  private void assertNoErrorLogged(String child) throws java.io.IOException {
    List<String> errors = java.nio.file.Files.readAllLines(procs.lastLog(child)).stream()
        .filter(line -> line.contains(" ERROR ")).toList();
    assertEquals(List.of(), errors, "a clean stop logs no ERROR");
  }
}
