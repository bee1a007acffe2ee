package io.zlayer.worker.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.controller.ControllerNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;

/**
 * End-to-end helpers: the controller and the worker as real child JVMs ({@code Main controller},
 * {@code Main start}), the operator CLI as child JVMs, a plain-socket client of the controller's
 * operator bridge for fast polling, and cleanup of everything started (including the replicas
 * the worker forked, found by a unique marker in their command line).
 *
 * <p>Child output goes to files in the test's directory (nothing blocks on pipes);
 * {@link #dumpLogs()} prints them.
 */
public final class Processes implements AutoCloseable {
  private static final String JAVA = ProcessHandle.current().info().command().orElse("java");
  private static final String CLASSPATH = System.getProperty("java.class.path");
  private static final String MAIN = "io.zlayer.worker.cli.Main";
  private static final Duration CLI_TIMEOUT = Duration.ofSeconds(40);

  private final Path dir;
  private final List<Process> daemons = new ArrayList<>();
  private final List<Path> logs = new ArrayList<>();
  private final List<String> markers = new ArrayList<>();
  private int sequence;

  public Processes(Path dir) {
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  // ---- config files ----

  /** A controller config on free loopback ports. */
  public static final class ControllerConfig {
    public final Path file;
    public final Path dataDir;
    public final int grpcPort;
    public final int bridgePort;
    public final int operatorPort;

    ControllerConfig(Path file, Path dataDir, int grpcPort, int bridgePort, int operatorPort) {
      this.file = file;
      this.dataDir = dataDir;
      this.grpcPort = grpcPort;
      this.bridgePort = bridgePort;
      this.operatorPort = operatorPort;
    }

    public String adminToken() throws IOException {
      return Files.readString(dataDir.resolve(ControllerNode.ADMIN_TOKEN_FILE)).trim();
    }
  }

  /** A worker config. */
  public static final class WorkerConfig {
    public final Path file;
    public final Path dataDir;

    WorkerConfig(Path file, Path dataDir) {
      this.file = file;
      this.dataDir = dataDir;
    }

    public Path tokenFile() {
      return dataDir.resolve("token");
    }
  }

  public ControllerConfig controllerConfig(String name, String minTtl, String grace, String failoverTtl)
      throws IOException {
    return controllerConfig(name, minTtl, grace, failoverTtl, new String[0]);
  }

  /** A controller config with {@code extra} lines (e.g. {@code store:} and {@code node_id:} for etcd). */
  public ControllerConfig controllerConfig(String name, String minTtl, String grace, String failoverTtl,
                                           String... extra) throws IOException {
    Path dataDir = dir.resolve(name + "-data");
    int grpcPort = TestCluster.freePort();
    int bridgePort = TestCluster.freePort();
    int operatorPort = TestCluster.freePort();
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(file, String.join("\n",
        "mode: worker-tier",
        "role: server",
        "data_dir: " + dataDir,
        "worker_grpc_addr: 127.0.0.1:" + grpcPort,
        "operator_http_addr: 127.0.0.1:" + operatorPort,
        "bridge_port: " + bridgePort,
        "heartbeat_min_ttl: " + minTtl,
        "heartbeat_grace: " + grace,
        "max_heartbeats_per_second: 50",
        "failover_heartbeat_ttl: " + failoverTtl,
        "labels:",
        "  zone: e2e",
        String.join("\n", extra),
        ""));
    return new ControllerConfig(file, dataDir, grpcPort, bridgePort, operatorPort);
  }

  public WorkerConfig workerConfig(String name, ControllerConfig controller, String minTtl, String grace)
      throws IOException {
    return workerConfig(name, controller, minTtl, grace, "bridge_port: -1");
  }

  /** A worker config with {@code extra} lines (which must set {@code bridge_port}). */
  public WorkerConfig workerConfig(String name, ControllerConfig controller, String minTtl, String grace,
                                   String... extra) throws IOException {
    Path dataDir = dir.resolve(name + "-data");
    Path file = dir.resolve(name + ".yaml");
    List<String> lines = new ArrayList<>(List.of(
        "mode: worker-tier",
        "role: worker",
        "servers:",
        "  - https://127.0.0.1:" + controller.grpcPort,
        "data_dir: " + dataDir,
        "heartbeat_min_ttl: " + minTtl,
        "heartbeat_grace: " + grace,
        "labels:",
        "  zone: e2e"));
    lines.addAll(List.of(extra));
    lines.add("");
    Files.writeString(file, String.join("\n", lines));
    return new WorkerConfig(file, dataDir);
  }

  /** Writes a bootstrap token where the worker looks for it (mode 0600). */
  public static void writeToken(WorkerConfig worker, String token) throws IOException {
    Files.createDirectories(worker.dataDir);
    Path file = worker.tokenFile();
    Files.writeString(file, token + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }

  // ---- child JVMs ----

  private ProcessBuilder jvm(List<String> args) {
    List<String> command = new ArrayList<>(List.of(JAVA, "-cp", CLASSPATH, MAIN));
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
    // The config files say everything: no ZLAYER_* override from the test's environment.
    pb.environment().keySet().removeIf(k -> k.startsWith("ZLAYER_"));
    // Controllers record themselves for the operator tools: here, not in the user's home.
    pb.environment().put("ZLAYER_STATE_DIR", dir.resolve("state").toString());
    return pb;
  }

  /** Starts a long-running child ({@code controller} or {@code start}); output to {@code <name>-<n>.log}. */
  public Process daemon(String name, String... args) throws IOException {
    Path log = dir.resolve(name + "-" + (++sequence) + ".log");
    logs.add(log);
    Process p = jvm(List.of(args)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    daemons.add(p);
    return p;
  }

  /** The log of the most recent child started with {@code name}. */
  public Path lastLog(String name) {
    for (int i = logs.size() - 1; i >= 0; i--) {
      if (logs.get(i).getFileName().toString().startsWith(name + "-")) {
        return logs.get(i);
      }
    }
    throw new IllegalStateException("no " + name + " was started");
  }

  public Process controller(ControllerConfig config) throws IOException {
    return daemon("controller", "controller", "-c", config.file.toString());
  }

  public Process worker(WorkerConfig config) throws IOException {
    return daemon("worker", "start", "-c", config.file.toString());
  }

  /** The result of one CLI run. */
  public record CliResult(int exitCode, String stdout, String stderr) {
    public CliResult requireOk() {
      if (exitCode != 0) {
        throw new AssertionError("CLI exited " + exitCode + "\nstdout: " + stdout + "\nstderr: " + stderr);
      }
      return this;
    }
  }

  /** Runs the operator CLI ({@code Main args...}) to completion. */
  public CliResult cli(String... args) throws IOException, InterruptedException {
    int n = ++sequence;
    Path out = dir.resolve("cli-" + n + ".out");
    Path err = dir.resolve("cli-" + n + ".err");
    Process p = jvm(List.of(args)).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(CLI_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("CLI " + List.of(args) + " did not finish in " + CLI_TIMEOUT
          + "\nstderr: " + Files.readString(err));
    }
    return new CliResult(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  // ---- the operator bridge, spoken with a plain socket ----

  /** One request over the controller's bridge (a fresh connection each time) -> the reply's body. */
  public static JsonObject bridge(ControllerConfig controller, String address, JsonObject body) throws IOException {
    try (OperatorBridge bridge = new OperatorBridge("127.0.0.1", controller.bridgePort, controller.adminToken())) {
      return bridge.request(address, body);
    } catch (OperatorBridge.RefusedException e) {
      throw new IOException("bridge refused " + address + ": " + e.getMessage());
    }
  }

  /** {@code nodes} over the bridge (same payload as {@code nodes --json}). */
  public static JsonArray nodes(ControllerConfig controller) throws IOException {
    return bridge(controller, Addresses.OPERATOR_NODES_LIST, new JsonObject()).getJsonArray("nodes", new JsonArray());
  }

  public static Optional<JsonObject> node(JsonArray nodes, long nodeId) {
    return nodes.stream().map(JsonObject.class::cast).filter(n -> n.getLong("node_id") == nodeId).findFirst();
  }

  public static Optional<JsonObject> container(JsonObject node, String service, int replica) {
    return node.getJsonArray("containers", new JsonArray()).stream().map(JsonObject.class::cast)
        .filter(c -> service.equals(c.getString("service")) && c.getInteger("replica", -1) == replica)
        .findFirst();
  }

  /**
   * Polls {@code nodes} every {@code periodMs} until {@code done} holds, at most {@code timeout};
   * returns the matching listing or fails with {@code what} and the last listing (or error).
   */
  public static JsonArray awaitNodes(ControllerConfig controller, Duration timeout, String what,
                                     Predicate<JsonArray> done) throws Exception {
    return awaitNodes(controller, timeout, 200, what, done);
  }

  public static JsonArray awaitNodes(ControllerConfig controller, Duration timeout, long periodMs, String what,
                                     Predicate<JsonArray> done) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "(no answer yet)";
    while (true) {
      try {
        JsonArray nodes = nodes(controller);
        last = new JsonObject().put("nodes", nodes).encodePrettily();
        if (done.test(nodes)) {
          return nodes;
        }
      } catch (IOException e) {
        last = "bridge error: " + e;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what
            + "; last nodes listing:\n" + last);
      }
      Thread.sleep(periodMs); // poll period of a bounded cross-process poll
    }
  }

  /** Waits until the controller's bridge answers (the controller finished starting). */
  public static void awaitBridge(ControllerConfig controller, Process process, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("the controller exited with code " + process.exitValue() + " while starting");
      }
      try {
        if (Files.exists(controller.dataDir.resolve(ControllerNode.ADMIN_TOKEN_FILE))) {
          nodes(controller);
          return;
        }
      } catch (IOException e) {
        last = e;
      }
      Thread.sleep(50); // poll period
    }
    throw new AssertionError("the controller's bridge did not answer within " + timeout + ": " + last);
  }

  // ---- replicas and cleanup ----

  /** A unique marker for a replica command, remembered so that {@link #close()} kills what carries it. */
  public String marker(String label) {
    String marker = "zl-e2e-" + label + "-" + UUID.randomUUID();
    markers.add(marker);
    return marker;
  }

  /** Pids of processes whose command line contains {@code marker} ({@code pgrep -f}). */
  public static List<Long> pgrep(String marker) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("pgrep", "-f", marker).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("pgrep did not finish");
    }
    List<Long> pids = new ArrayList<>();
    for (String line : out.split("\\s+")) {
      if (!line.isBlank()) {
        pids.add(Long.parseLong(line.trim()));
      }
    }
    return pids;
  }

  /** SIGKILL to a process's descendants (as seen now), then to it; waits for it to be reaped. */
  public static void kill9(Process process) throws InterruptedException {
    List<ProcessHandle> children = process.descendants().toList();
    process.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    if (!process.waitFor(15, TimeUnit.SECONDS)) {
      throw new AssertionError("process " + process.pid() + " survived SIGKILL");
    }
  }

  /** SIGKILL to the JVM process only (its children are left alone, as with a real kill -9). */
  public static void kill9Only(Process process) throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(15, TimeUnit.SECONDS)) {
      throw new AssertionError("process " + process.pid() + " survived SIGKILL");
    }
  }

  private static void killHandleTree(ProcessHandle h) {
    List<ProcessHandle> children = h.descendants().toList();
    h.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
  }

  /**
   * For a test's {@code @RegisterExtension} field: when the test failed, {@link #dumpLogs()} of the
   * test's processes (read when it ends; null: nothing started), before {@code @AfterEach} stops
   * them and the temp dir goes.
   */
  public static AfterTestExecutionCallback dumpLogsOnFailure(Supplier<Processes> procs) {
    return context -> {
      Processes p = procs.get();
      if (context.getExecutionException().isPresent() && p != null) {
        p.dumpLogs();
      }
    };
  }

  /** Prints every child's output file. */
  public void dumpLogs() {
    List<Path> files = new ArrayList<>(logs);
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(f -> f.getFileName().toString().startsWith("cli-")).sorted().forEach(files::add);
    } catch (IOException e) {
      // nothing more to show
    }
    for (Path log : files) {
      try {
        System.out.println("===== " + log.getFileName() + " =====");
        System.out.println(Files.readString(log));
      } catch (IOException e) {
        System.out.println("(cannot read " + log + ": " + e + ")");
      }
    }
  }

  /** The concatenated output of every daemon whose log name starts with {@code name}. */
  public String output(String name) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (Path log : logs) {
      if (log.getFileName().toString().startsWith(name + "-") && Files.exists(log)) {
        sb.append(Files.readString(log));
      }
    }
    return sb.toString();
  }

  /** Kills every daemon started (and its descendants) and every process carrying a marker. */
  @Override
  public void close() throws Exception {
    for (Process p : daemons) {
      if (p.isAlive()) {
        kill9(p);
      }
    }
    daemons.clear();
    for (String marker : markers) {
      for (long pid : pgrep(marker)) {
        ProcessHandle.of(pid).ifPresent(Processes::killHandleTree);
      }
    }
    for (String marker : markers) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!pgrep(marker).isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(50); // bounded wait for the kernel to reap
      }
    }
    markers.clear();
  }
}
