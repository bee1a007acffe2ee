package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
class ConfigLoaderTest {
  private static final Path CONTROLLER_YAML = Path.of("conf/controller.yaml");
  private static final Path WORKER_YAML = Path.of("conf/worker.yaml");

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static ConfigException awaitFailure(Future<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> await(f));
    return assertInstanceOf(ConfigException.class, e.getCause());
  }

  private static Path write(Path dir, String name, String yaml) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, yaml);
    return p;
  }

  @Test
  void shippedControllerConfigGivesDefaults(Vertx vertx) throws Exception {
    ControllerOptions c = ControllerOptions.fromJson(await(ConfigLoader.read(vertx, CONTROLLER_YAML, Map.of())));
    assertEquals(1, c.nodeId());
    assertEquals(List.of(), c.peers());
    assertEquals(new HostPort("0.0.0.0", 3670), c.workerGrpcAddr());
    assertEquals(Path.of("./data/controller"), c.dataDir());
    assertEquals(Path.of("./data/controller/ca"), c.workerCaDir());
    assertTrue(c.store().embedded());
    assertEquals(HeartbeatOptions.DEFAULTS, c.heartbeat());
    assertEquals(List.of(), c.tlsNames());
    assertEquals(Duration.ofDays(30), c.workerCertValidity());
    assertEquals(3671, c.bridgePort());
    assertEquals(Map.of(), c.labels(), "the controller uses no labels; the shipped file sets none");
    // and with the real environment (no ZLAYER_* variables expected in the test environment)
    await(ConfigLoader.loadController(vertx, CONTROLLER_YAML));
  }

  @Test
  void shippedWorkerConfigGivesDefaults(Vertx vertx) throws Exception {
    WorkerOptions w = WorkerOptions.fromJson(await(ConfigLoader.read(vertx, WORKER_YAML, Map.of())));
    assertEquals(List.of("https://127.0.0.1:3670"), w.servers());
    assertEquals(List.of(new HostPort("127.0.0.1", 3670)), w.serverAddresses());
    assertEquals(Path.of("./data/worker"), w.dataDir());
    assertEquals(Path.of("./data/worker/token"), w.tokenFile());
    assertEquals(Path.of("./data/worker/identity"), w.identityDir());
    assertEquals(Map.of("zone", "dev"), w.labels());
    assertEquals(HeartbeatOptions.DEFAULTS, w.heartbeat());
    assertEquals(Protocol.GRPC, w.protocol());
    assertEquals(ExecutorKind.PROCESS, w.executor());
    assertEquals(3672, w.bridgePort());
    assertEquals("", w.apiAddr());
    await(ConfigLoader.loadWorker(vertx, WORKER_YAML));
  }

  @Test
  void shippedFilesListEveryKey() throws Exception {
    for (Path p : List.of(CONTROLLER_YAML, WORKER_YAML)) {
      String text = Files.readString(p);
      // every key of this role appears, set or commented out
      for (String key : p == CONTROLLER_YAML
          ? List.of("mode", "role", "node_id", "peers", "worker_grpc_addr", "data_dir", "worker_ca_dir", "store",
              "heartbeat_min_ttl", "heartbeat_max_ttl", "heartbeat_grace", "max_heartbeats_per_second",
              "failover_heartbeat_ttl", "tls_names", "worker_cert_validity", "bridge_port", "labels",
              "operator_http_addr", "log_format", "connection_idle_timeout", "tls_handshake_timeout",
              "http_request_timeout", "http2_max_concurrent_streams")
          // a worker's file lists only what a worker uses (the controller's heartbeat keys are not among them)
          : List.of("mode", "role", "servers", "data_dir", "token_file", "identity_dir", "labels",
              "heartbeat_min_ttl", "heartbeat_max_ttl", "protocol", "executor", "bridge_port", "api_addr", "log_format",
              "leave_on_terminate")) {
        assertTrue(text.matches("(?s).*(^|\\n)(# )?" + key + ":.*"), p + " lacks " + key);
      }
    }
  }

  @Test
  void seedWorkerTierServerConfig(Vertx vertx, @TempDir Path dir) throws Exception {
    Path file = write(dir, "seed.yaml", """
        mode: worker-tier
        role: server
        node_id: 1
        worker_grpc_addr: 0.0.0.0:3670
        worker_ca_dir: /var/lib/zlayer/cluster
        heartbeat_min_ttl: 15
        heartbeat_max_ttl: 600
        heartbeat_grace: 10
        max_heartbeats_per_second: 100
        failover_heartbeat_ttl: 300
        """);
    ControllerOptions c = ControllerOptions.fromJson(await(ConfigLoader.read(vertx, file, Map.of())));
    assertEquals(1, c.nodeId());
    assertEquals(List.of(), c.peers());
    assertEquals(new HostPort("0.0.0.0", 3670), c.workerGrpcAddr());
    assertEquals(Path.of("/var/lib/zlayer/cluster"), c.workerCaDir());
    assertEquals(new HeartbeatOptions(Duration.ofSeconds(15), Duration.ofSeconds(600), Duration.ofSeconds(10), 100,
        Duration.ofSeconds(300)), c.heartbeat());
    assertEquals(100, c.heartbeat().maxHeartbeatsPerSecond());
    assertEquals(c, ControllerOptions.fromJson(c.toJson()));
  }

  @Test
  void validationErrorsFromFiles(Vertx vertx, @TempDir Path dir) throws Exception {
    Path unknown = write(dir, "u.yaml", "mode: worker-tier\nheartbeat_ttl: 10\n");
    ConfigException e = assertThrows(ConfigException.class,
        () -> ControllerOptions.fromJson(await(ConfigLoader.read(vertx, unknown, Map.of()))));
    assertTrue(e.getMessage().startsWith("heartbeat_ttl: unknown key"), e.getMessage());

    Path role = write(dir, "r.yaml", "role: worker\n");
    e = awaitFailure(read(vertx, role).map(ControllerOptions::fromJson));
    assertEquals("role: expected server for a controller config, got worker", e.getMessage());

    Path noServers = write(dir, "w.yaml", "role: worker\nservers: []\n");
    e = awaitFailure(read(vertx, noServers).map(WorkerOptions::fromJson));
    assertEquals("servers: no servers configured (list at least one controller, e.g. https://127.0.0.1:3670)",
        e.getMessage());

    Path badType = write(dir, "t.yaml", "max_heartbeats_per_second: abc\n");
    e = awaitFailure(read(vertx, badType).map(ControllerOptions::fromJson));
    assertEquals("max_heartbeats_per_second: expected a positive integer, got \"abc\"", e.getMessage());
  }

  private static Future<JsonObject> read(Vertx vertx, Path file) {
    return ConfigLoader.read(vertx, file, Map.of());
  }

  @Test
  void missingFile(Vertx vertx, @TempDir Path dir) {
    Path missing = dir.resolve("nope.yaml");
    assertEquals(missing + ": file not found", awaitFailure(ConfigLoader.loadWorker(vertx, missing)).getMessage());
  }

  @Test
  void invalidYaml(Vertx vertx, @TempDir Path dir) throws Exception {
    Path bad = write(dir, "bad.yaml", "servers: [https://a:1\nlabels: {\n");
    String m = awaitFailure(read(vertx, bad)).getMessage();
    assertTrue(m.startsWith(bad + ": not valid YAML: "), m);
    assertTrue(!m.contains("\n"), m);
    Path list = write(dir, "list.yaml", "- a\n- b\n");
    m = awaitFailure(read(vertx, list)).getMessage();
    assertTrue(m.startsWith(list + ": not valid YAML: "), m);
  }

  @Test
  void emptyFileIsAllDefaultsForController(Vertx vertx, @TempDir Path dir) throws Exception {
    Path empty = write(dir, "empty.yaml", "# nothing\n");
    assertEquals(HeartbeatOptions.DEFAULTS, ControllerOptions.fromJson(await(read(vertx, empty))).heartbeat());
  }

  @Test
  void envOverrides(Vertx vertx) throws Exception {
    Map<String, String> env = Map.of(
        "ZLAYER_WORKER_GRPC_ADDR", "127.0.0.1:9999",
        "ZLAYER_SERVERS", "https://a:1, https://b:2",
        "ZLAYER_SERVICE", "whatever",
        "ZLAYER_HEARTBEAT_MIN_TTL", "20s",
        "ZLAYER_MAX_HEARTBEATS_PER_SECOND", "75",
        "ZLAYER_LABELS", "zone=prod,rack=r1",
        "ZLAYER_DATA_DIR", "/tmp/zl");
    JsonObject json = await(ConfigLoader.read(vertx, CONTROLLER_YAML, env));
    ControllerOptions c = ControllerOptions.fromJson(json);
    assertEquals(new HostPort("127.0.0.1", 9999), c.workerGrpcAddr());
    assertEquals(Duration.ofSeconds(20), c.heartbeat().minTtl());
    assertEquals(75, c.heartbeat().maxHeartbeatsPerSecond());
    assertEquals(Map.of("zone", "prod", "rack", "r1"), c.labels());
    assertEquals(Path.of("/tmp/zl/ca"), c.workerCaDir());

    WorkerOptions w = WorkerOptions.fromJson(await(ConfigLoader.read(vertx, WORKER_YAML, env)));
    assertEquals(List.of("https://a:1", "https://b:2"), w.servers());
    assertEquals(Path.of("/tmp/zl/token"), w.tokenFile());
  }

  @Test
  void envBadNumberNamesVariable(Vertx vertx) {
    ConfigException e = awaitFailure(ConfigLoader.read(vertx, WORKER_YAML,
        Map.of("ZLAYER_MAX_HEARTBEATS_PER_SECOND", "x")));
    assertTrue(e.getMessage().startsWith("ZLAYER_MAX_HEARTBEATS_PER_SECOND: "), e.getMessage());
  }

  @Test
  void applyEnvDirect() {
    JsonObject base = new JsonObject().put("store", "embedded").put("peers", new JsonArray().add("x:1"));
    JsonObject out = ConfigLoader.applyEnv(base, Map.of(
        "ZLAYER_STORE_ENDPOINTS", "https://e1:2379,https://e2:2379",
        "ZLAYER_PEERS", "10.0.0.2:3680,10.0.0.3:3680",
        "ZLAYER_TLS_NAMES", "ctl.example.com",
        "ZLAYER_SERVICE", "ignored"), ConfigLoader.KNOWN_KEYS);
    assertEquals("embedded", base.getString("store"), "input untouched");
    assertTrue(!out.containsKey("service"));
    ControllerOptions c = ControllerOptions.fromJson(out);
    assertEquals("etcd", c.store().type());
    assertEquals(List.of("https://e1:2379", "https://e2:2379"), c.store().endpoints());
    assertEquals(List.of("10.0.0.2:3680", "10.0.0.3:3680"), c.peers());
    assertEquals(List.of("ctl.example.com"), c.tlsNames());

    // only the known keys given are considered
    JsonObject none = ConfigLoader.applyEnv(new JsonObject(), Map.of("ZLAYER_NODE_ID", "2"), java.util.Set.of("labels"));
    assertTrue(none.isEmpty());
    assertThrows(ConfigException.class,
        () -> ConfigLoader.applyEnv(new JsonObject(), Map.of("ZLAYER_LABELS", "novalue"), ConfigLoader.KNOWN_KEYS));
  }
}
