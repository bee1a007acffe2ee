package io.zlayer.worker.it;

import static io.zlayer.worker.it.Processes.awaitBridge;
import static io.zlayer.worker.it.Processes.container;
import static io.zlayer.worker.it.Processes.node;
import static io.zlayer.worker.it.Processes.pgrep;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Controllers stopping and dying under a live worker, all real processes: a controller that stops
 * gracefully (SIGTERM) tells its workers why, and they move on at once; a rolling restart of three
 * controllers on etcd marks nobody unreachable and loses no assignment; {@code kill -9} of the
 * worker's controller has it on another within one backoff step, its processes untouched. (A
 * single controller's graceful restart: {@link GracefulStopTest}.)
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ControllerFailoverTest {
  private static final Duration START = Duration.ofSeconds(60);
  private static final Duration CONVERGE = Duration.ofSeconds(30);
  private static final Pattern SESSION_UP = Pattern.compile(
      "^(\\S+) INFO +Session - session up: node (\\d+) with controller 127\\.0\\.0\\.1:(\\d+)$", Pattern.MULTILINE);

  @TempDir
  Path dir;
  Processes procs;
  EtcdServer etcd;

  @RegisterExtension
  final AfterTestExecutionCallback dumpOnFailure = Processes.dumpLogsOnFailure(() -> procs);

  @BeforeEach
  void setUp() {
    procs = new Processes(dir);
  }

  @AfterEach
  void tearDown() throws Exception {
    procs.close();
    if (etcd != null) {
      etcd.close();
    }
  }

  /** One "session up" line of the worker's log: when, and on which controller port. */
  record Up(long atMillis, int port) {
  }

  private List<Up> sessionsUp() throws IOException {
    List<Up> ups = new ArrayList<>();
    Matcher m = SESSION_UP.matcher(procs.output("worker"));
    while (m.find()) {
      ups.add(new Up(OffsetDateTime.parse(m.group(1)).toInstant().toEpochMilli(), Integer.parseInt(m.group(3))));
    }
    return ups;
  }

  /** Waits for the worker's {@code n}-th session (counting from 1) and returns it. */
  private Up awaitSession(int n, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Up> ups = sessionsUp();
      if (ups.size() >= n) {
        return ups.get(n - 1);
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the worker's session " + n + " did not come up within " + timeout + "; seen: " + ups);
      }
      Thread.sleep(25); // poll period of a log file written by another process
    }
  }

  private Processes.WorkerConfig worker(List<Processes.ControllerConfig> controllers) throws IOException {
    Path dataDir = dir.resolve("worker-data");
    List<String> lines = new ArrayList<>(List.of("mode: worker-tier", "role: worker", "servers:"));
    controllers.forEach(c -> lines.add("  - https://127.0.0.1:" + c.grpcPort));
    lines.addAll(List.of("data_dir: " + dataDir, "heartbeat_min_ttl: 2s", "heartbeat_grace: 2s", "bridge_port: -1", ""));
    Path file = dir.resolve("worker.yaml");
    Files.writeString(file, String.join("\n", lines));
    return new Processes.WorkerConfig(file, dataDir);
  }

  private long join(Processes.ControllerConfig via, Processes.WorkerConfig worker) throws Exception {
    String token = Processes.bridge(via, Addresses.OPERATOR_TOKEN_CREATE, new JsonObject()).getString("token");
    Processes.writeToken(worker, token);
    procs.worker(worker);
    awaitSession(1, START);
    return Long.parseLong(matchNodeId());
  }

  private String matchNodeId() throws IOException {
    Matcher m = SESSION_UP.matcher(procs.output("worker"));
    assertTrue(m.find());
    return m.group(2);
  }

  private static JsonObject assign(Processes.ControllerConfig via, long nodeId, String service, String marker)
      throws IOException {
    JsonObject reply = Processes.bridge(via, Addresses.OPERATOR_ASSIGN, new JsonObject()
        .put("node_id", nodeId).put("service", service).put("role", "default")
        .put("indices", new JsonArray().add(0)).put("command", "sleep 1000 # " + marker).put("env", new JsonObject()));
    assertTrue(reply.getLong("revision", 0L) > 0, "assign answered a revision: " + reply);
    return reply;
  }

  /** Waits until every marker runs as exactly one process; returns their pids in order. */
  private static List<Long> awaitRunningOnce(List<String> markers) throws Exception {
    long deadline = System.nanoTime() + CONVERGE.toNanos();
    while (true) {
      List<Long> pids = new ArrayList<>();
      for (String marker : markers) {
        List<Long> found = pgrep(marker);
        if (found.size() == 1) {
          pids.add(found.get(0));
        }
      }
      if (pids.size() == markers.size()) {
        return pids;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not every assignment runs exactly once within " + CONVERGE + ": " + pids);
      }
      Thread.sleep(100); // poll period of processes started by another process
    }
  }

  private void copyCa(Processes.ControllerConfig from, Processes.ControllerConfig to) throws IOException {
    Path dst = Files.createDirectories(to.dataDir.resolve("ca"));
    for (String f : List.of(WorkerCa.CA_CERT_FILE, WorkerCa.CA_KEY_FILE)) {
      Files.copy(from.dataDir.resolve("ca").resolve(f), dst.resolve(f));
    }
  }

  private static void sigterm(Process p) throws InterruptedException {
    p.destroy(); // SIGTERM
    if (!p.waitFor(25, TimeUnit.SECONDS)) {
      throw new AssertionError("controller " + p.pid() + " did not stop within 25 s of SIGTERM");
    }
  }

  private String controllerLogs() throws IOException {
    return procs.output("controller");
  }

  @Test
  void rollingRestartOfThreeThenKill9OfTheWorkersController() throws Exception {
    etcd = new EtcdServer().start();
    List<Processes.ControllerConfig> configs = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      configs.add(procs.controllerConfig("controller" + i, "2s", "2s", "30s",
          "node_id: " + i, "store:", "  type: etcd", "  endpoints: [\"" + etcd.endpoint() + "\"]"));
    }
    Process[] running = new Process[3];
    running[0] = procs.controller(configs.get(0));
    awaitBridge(configs.get(0), running[0], START);
    copyCa(configs.get(0), configs.get(1));
    copyCa(configs.get(0), configs.get(2));
    running[1] = procs.controller(configs.get(1));
    running[2] = procs.controller(configs.get(2));
    awaitBridge(configs.get(1), running[1], START);
    awaitBridge(configs.get(2), running[2], START);

    long nodeId = join(configs.get(0), worker(configs));
    assertEquals(configs.get(0).grpcPort, sessionsUp().get(0).port(), "the worker starts on its first server");
    List<String> markers = new ArrayList<>();
    markers.add(procs.marker("pre"));
    assign(configs.get(1), nodeId, "pre", markers.get(0)); // through another controller
    long prePid = awaitRunningOnce(markers).get(0);

    // Rolling restart: the controller the worker is on is SIGTERM'd (it moves to its next server:
    // its first one, then the others in an order of its own, so a fleet spreads), an assignment is
    // made while it is away, and it is started again. Its order is a cycle: three rounds restart
    // each controller once.
    List<Long> moves = new ArrayList<>();
    java.util.Set<Integer> restarted = new java.util.HashSet<>();
    int cur = 0;
    for (int round = 0; round < 3; round++) {
      int sessions = sessionsUp().size();
      assertEquals(configs.get(cur).grpcPort, sessionsUp().get(sessions - 1).port(), "the worker is on controller " + (cur + 1));
      long termAt = System.currentTimeMillis();
      sigterm(running[cur]);
      Up moved = awaitSession(sessions + 1, Duration.ofSeconds(10));
      moves.add(moved.atMillis() - termAt);
      int next = portIndex(configs, moved.port());
      assertTrue(next >= 0 && next != cur, "it moved to another server: " + moved.port());
      markers.add(procs.marker("r" + round));
      assign(configs.get(3 - cur - next), nodeId, "r" + round, markers.get(markers.size() - 1)); // the third one
      running[cur] = procs.controller(configs.get(cur));
      awaitBridge(configs.get(cur), running[cur], START);
      restarted.add(cur);
      cur = next;
    }
    assertEquals(java.util.Set.of(0, 1, 2), restarted, "each controller was restarted once");
    // Each goodbye is followed by the session on the next controller, with no failed attempt and
    // no backoff in between (the time is the connect: TLS handshake, three streams, first ack).
    String[] lines = procs.output("worker").split("\n");
    List<Long> heardToUp = new ArrayList<>();
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].contains("is shutting down; moving to")) {
        long heard = OffsetDateTime.parse(lines[i].split(" ")[0]).toInstant().toEpochMilli();
        int j = i + 1;
        while (j < lines.length && !lines[j].contains(" Session - ")) {
          j++;
        }
        assertTrue(j < lines.length && lines[j].contains("session up"), "the goodbye was followed by a session, "
            + "not a backoff: " + (j < lines.length ? lines[j] : "(nothing)"));
        heardToUp.add(OffsetDateTime.parse(lines[j].split(" ")[0]).toInstant().toEpochMilli() - heard);
      }
    }
    System.out.printf("rolling restart: SIGTERM to the worker up on the next controller: %s ms "
        + "(goodbye heard to up: %s ms)%n", moves, heardToUp);
    assertEquals(3, heardToUp.size(), "the worker heard each goodbye");
    List<Long> pids = awaitRunningOnce(markers);
    assertEquals(prePid, pids.get(0), "pre/0 kept its process through the rolling restart");

    // kill -9 of the worker's controller (its first one again): on another within one backoff step.
    int sessions = sessionsUp().size();
    assertEquals(configs.get(cur).grpcPort, sessionsUp().get(sessions - 1).port());
    long killAt = System.currentTimeMillis();
    Processes.kill9Only(running[cur]);
    Up failedOver = awaitSession(sessions + 1, Duration.ofSeconds(10));
    long failoverMs = failedOver.atMillis() - killAt;
    System.out.printf("kill -9 of the worker's controller: on controller port %d after %d ms%n",
        failedOver.port(), failoverMs);
    int survivor = portIndex(configs, failedOver.port());
    assertTrue(survivor >= 0 && survivor != cur, "on another server: " + failedOver.port());
    // One backoff step: the session lost is followed by one retry, on the next server, which holds.
    String[] after = procs.output("worker").split("\n");
    int lost = -1;
    for (int i = 0; i < after.length; i++) {
      if (after[i].contains("session lost")) {
        lost = i; // the last one: the kill's
      }
    }
    assertTrue(lost >= 0, "the worker saw its session lost");
    assertTrue(after[lost].contains("trying 127.0.0.1:" + configs.get(survivor).grpcPort + " in "), after[lost]);
    long stepMs = Long.parseLong(after[lost].replaceAll(".* in (\\d+) ms$", "$1"));
    assertTrue(stepMs <= Backoff.INITIAL.toMillis() * Backoff.JITTER_MAX, "the first backoff step: " + after[lost]);
    for (int i = lost + 1; i < after.length && !after[i].contains("session up"); i++) {
      assertFalse(after[i].contains(" Session - controller "), "no second attempt: " + after[i]);
    }
    System.out.printf("kill -9: one backoff step of %d ms, then up on the next controller (%d ms after the kill)%n",
        stepMs, failoverMs);
    assertTrue(failoverMs < stepMs + 5_000, "the step plus a connect: " + failoverMs + " ms");
    // Past the killed controller's etcd lease (4 s), the node stays ready on its new controller.
    Processes.awaitNodes(configs.get(survivor), Duration.ofSeconds(15), "two heartbeats past the dead controller's lease",
        ns -> node(ns, nodeId).map(n -> "ready".equals(n.getString("state")) && n.containsKey("last_heartbeat")
            && OffsetDateTime.parse(n.getString("last_heartbeat")).toInstant().toEpochMilli() > killAt + 6_000)
            .orElse(false));
    assertEquals(pids, awaitRunningOnce(markers), "every workload kept its process");
    JsonObject view = node(Processes.nodes(configs.get(survivor)), nodeId).orElseThrow();
    for (int i = 0; i < 3; i++) {
      assertEquals("running", container(view, "r" + i, 0).orElseThrow().getString("state"), view.encodePrettily());
    }
    String logs = controllerLogs();
    // NodeService's line for a node marked unreachable (not "the cluster state store is unreachable").
    assertFalse(Pattern.compile("node \\d+ is unreachable").matcher(logs).find(), "nobody was marked unreachable:\n" + logs);
  }

  /** Which of the controllers listens on {@code port} (-1: none). */
  private static int portIndex(List<Processes.ControllerConfig> configs, int port) {
    for (int i = 0; i < configs.size(); i++) {
      if (configs.get(i).grpcPort == port) {
        return i;
      }
    }
    return -1;
  }
}
