package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptionsTest {

  private static JsonObject worker() {
    return new JsonObject().put("servers", new JsonArray().add("https://127.0.0.1:3670"));
  }

  private static String controllerError(JsonObject json) {
    return assertThrows(ConfigException.class, () -> ControllerOptions.fromJson(json)).getMessage();
  }

  private static String workerError(JsonObject json) {
    return assertThrows(ConfigException.class, () -> WorkerOptions.fromJson(json)).getMessage();
  }

  @Test
  void controllerDefaults() {
    ControllerOptions c = ControllerOptions.fromJson(new JsonObject());
    assertEquals(1, c.nodeId());
    assertEquals(List.of(), c.peers());
    assertEquals(new HostPort("0.0.0.0", 3670), c.workerGrpcAddr());
    assertEquals(Path.of("./data/controller"), c.dataDir());
    assertEquals(Path.of("./data/controller/ca"), c.workerCaDir());
    assertTrue(c.store().embedded());
    assertEquals(HeartbeatOptions.DEFAULTS, c.heartbeat());
    assertEquals(Duration.ofDays(30), c.workerCertValidity());
    assertEquals(Duration.ofHours(24), c.nodeGcThreshold());
    assertEquals(Duration.ZERO, ControllerOptions.fromJson(new JsonObject().put("node_gc_threshold", "0s"))
        .nodeGcThreshold());
    assertEquals(3671, c.bridgePort());
    assertEquals(Map.of(), c.labels());
  }

  @Test
  void workerDefaults() {
    WorkerOptions w = WorkerOptions.fromJson(worker());
    assertEquals(Path.of("./data/worker"), w.dataDir());
    assertEquals(Path.of("./data/worker/token"), w.tokenFile());
    assertEquals(Path.of("./data/worker/identity"), w.identityDir());
    assertEquals(HeartbeatOptions.DEFAULTS, w.heartbeat());
    assertEquals(Protocol.GRPC, w.protocol());
    assertEquals(ExecutorKind.PROCESS, w.executor());
    assertEquals(3672, w.bridgePort());
    assertEquals("", w.apiAddr());
  }

  @Test
  void heartbeatDefaults() {
    HeartbeatOptions h = HeartbeatOptions.DEFAULTS;
    assertEquals(Duration.ofSeconds(10), h.minTtl());
    assertEquals(Duration.ofSeconds(600), h.maxTtl());
    assertEquals(Duration.ofSeconds(10), h.grace());
    assertEquals(50, h.maxHeartbeatsPerSecond());
    assertEquals(Duration.ofSeconds(300), h.failoverTtl());
  }

  @Test
  void unknownKeyRejected() {
    String m = controllerError(new JsonObject().put("heartbeat_ttl", 5));
    assertTrue(m.startsWith("heartbeat_ttl: unknown key (known keys: mode, role, "), m);
    m = workerError(worker().put("srevers", new JsonArray()));
    assertTrue(m.startsWith("srevers: unknown key"), m);
  }

  @Test
  void otherRolesKeysAccepted() {
    ControllerOptions.fromJson(new JsonObject().put("servers", new JsonArray().add("https://x:1"))
        .put("token_file", "/t").put("identity_dir", "/i").put("protocol", "http").put("executor", "external")
        .put("api_addr", "x"));
    WorkerOptions.fromJson(worker().put("worker_ca_dir", "/ca").put("node_id", 3).put("peers", new JsonArray())
        .put("worker_grpc_addr", "0.0.0.0:1").put("store", "embedded").put("tls_names", new JsonArray())
        .put("worker_cert_validity", "2d").put("node_gc_threshold", "1h"));
  }

  @Test
  void badDurationRejected() {
    assertEquals("heartbeat_min_ttl: '10x' is not a duration (use seconds like 10 or a value like 10s, 5m, 1h)",
        controllerError(new JsonObject().put("heartbeat_min_ttl", "10x")));
    assertTrue(workerError(worker().put("failover_heartbeat_ttl", 1.5)).startsWith("failover_heartbeat_ttl: "));
  }

  @Test
  void minGreaterThanMaxRejected() {
    String m = controllerError(new JsonObject().put("heartbeat_min_ttl", "20m").put("heartbeat_max_ttl", "10m"));
    assertEquals("heartbeat_max_ttl: 10m is less than heartbeat_min_ttl (20m)", m);
    assertTrue(workerError(worker().put("heartbeat_min_ttl", 700)).startsWith("heartbeat_max_ttl: "));
  }

  @Test
  void minTtlAtLeastOneSecond() {
    assertTrue(controllerError(new JsonObject().put("heartbeat_min_ttl", "500ms"))
        .startsWith("heartbeat_min_ttl: must be at least 1s"));
  }

  @Test
  void wrongTypeRejected() {
    assertEquals("max_heartbeats_per_second: expected a positive integer, got \"abc\"",
        controllerError(new JsonObject().put("max_heartbeats_per_second", "abc")));
    assertEquals("max_heartbeats_per_second: expected a positive integer, got 0",
        workerError(worker().put("max_heartbeats_per_second", 0)));
    assertTrue(controllerError(new JsonObject().put("node_id", "one")).startsWith("node_id: "));
    assertTrue(controllerError(new JsonObject().put("worker_grpc_addr", 3670)).startsWith("worker_grpc_addr: "));
    assertTrue(controllerError(new JsonObject().put("peers", "x")).startsWith("peers: "));
    assertTrue(controllerError(new JsonObject().put("bridge_port", 70000)).startsWith("bridge_port: "));
    assertTrue(controllerError(new JsonObject().put("bridge_port", -1)).startsWith("bridge_port: "));
    String ephemeral = controllerError(new JsonObject().put("bridge_port", 0));
    assertTrue(ephemeral.startsWith("bridge_port: ") && ephemeral.contains("0 = ephemeral is not allowed"), ephemeral);
    assertTrue(workerError(worker().put("bridge_port", -2)).startsWith("bridge_port: "));
    assertEquals(-1, WorkerOptions.fromJson(worker().put("bridge_port", -1)).bridgePort());
    String workerEphemeral = workerError(worker().put("bridge_port", 0));
    assertTrue(workerEphemeral.startsWith("bridge_port: 0") && workerEphemeral.contains("-1 to disable"), workerEphemeral);
    assertTrue(workerError(worker().put("protocol", "udp")).startsWith("protocol: expected one of grpc, http"));
    assertTrue(workerError(worker().put("executor", 1)).startsWith("executor: "));
    assertTrue(workerError(worker().put("data_dir", new JsonArray())).startsWith("data_dir: "));
    assertTrue(controllerError(new JsonObject().put("worker_cert_validity", "30m"))
        .startsWith("worker_cert_validity: must be at least 1h"));
  }

  @Test
  void emptyServers() {
    String expected = "servers: no servers configured (list at least one controller, e.g. https://127.0.0.1:3670)";
    assertEquals(expected, workerError(new JsonObject()));
    assertEquals(expected, workerError(new JsonObject().put("servers", new JsonArray())));
    assertEquals(expected, workerError(new JsonObject().putNull("servers")));
  }

  @Test
  void serversNormalised() {
    WorkerOptions w = WorkerOptions.fromJson(new JsonObject().put("servers",
        new JsonArray().add("https://a:1").add("http://b:2/").add("c:3").add("https://[::1]:4")));
    assertEquals(List.of("https://a:1", "https://b:2", "https://c:3", "https://[::1]:4"), w.servers());
    assertEquals(List.of(new HostPort("a", 1), new HostPort("b", 2), new HostPort("c", 3), new HostPort("::1", 4)),
        w.serverAddresses());
    assertTrue(workerError(new JsonObject().put("servers", new JsonArray().add("https://a")))
        .startsWith("servers: 'https://a' has no port"));
    assertTrue(workerError(new JsonObject().put("servers", new JsonArray().add("ftp://a:1")))
        .startsWith("servers: "));
    assertTrue(workerError(new JsonObject().put("servers", new JsonArray().add("https://a:99999")))
        .startsWith("servers: "));
  }

  @Test
  void wrongRoleAndMode() {
    assertEquals("role: expected server for a controller config, got worker",
        controllerError(new JsonObject().put("role", "worker")));
    assertEquals("role: expected worker for a worker config, got server",
        workerError(worker().put("role", "server")));
    assertTrue(controllerError(new JsonObject().put("mode", "standalone")).startsWith("mode: expected worker-tier"));
  }

  @Test
  void labels() {
    WorkerOptions w = WorkerOptions.fromJson(worker().put("labels",
        new JsonObject().put("zone", "dev").put("gpus", 2).put("ssd", true)));
    assertEquals(Map.of("zone", "dev", "gpus", "2", "ssd", "true"), w.labels());
    assertTrue(workerError(worker().put("labels", new JsonObject().put("a", new JsonObject())))
        .startsWith("labels.a: "));
    assertTrue(workerError(worker().put("labels", new JsonObject().put("", "x"))).startsWith("labels: "));
    assertTrue(workerError(worker().put("labels", new JsonArray())).startsWith("labels: "));
  }

  @Test
  void store() {
    ControllerOptions c = ControllerOptions.fromJson(new JsonObject().put("store",
        new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add("https://10.0.0.1:2379"))));
    assertFalse(c.store().embedded());
    assertEquals(List.of("https://10.0.0.1:2379"), c.store().endpoints());
    assertTrue(controllerError(new JsonObject().put("store", "etcd")).startsWith("store.endpoints: "));
    assertTrue(controllerError(new JsonObject().put("store", "consul")).startsWith("store: "));
    assertTrue(controllerError(new JsonObject().put("store", new JsonObject().put("type", "etcd")
        .put("endpoints", new JsonArray().add("10.0.0.1:2379")))).startsWith("store.endpoints: "));
    assertTrue(controllerError(new JsonObject().put("store", new JsonObject().put("kind", "etcd")))
        .startsWith("store.kind: unknown key"));
  }

  @Test
  void etcdPrefixAndTls(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path ca = java.nio.file.Files.writeString(dir.resolve("ca.pem"), "x");
    Path cert = java.nio.file.Files.writeString(dir.resolve("c.pem"), "x");
    Path key = java.nio.file.Files.writeString(dir.resolve("k.pem"), "x");
    JsonArray https = new JsonArray().add("https://10.0.0.1:2379");
    StoreOptions s = ControllerOptions.fromJson(new JsonObject().put("store", new JsonObject().put("type", "etcd")
        .put("endpoints", https).put("prefix", "/prod/").put("tls", new JsonObject().put("ca_file", ca.toString())
            .put("cert_file", cert.toString()).put("key_file", key.toString())))).store();
    assertEquals("/prod/", s.prefix());
    assertEquals(new StoreOptions.Tls(ca, cert, key), s.tls());
    assertEquals(StoreOptions.DEFAULT_PREFIX, ControllerOptions.fromJson(new JsonObject().put("store",
        new JsonObject().put("endpoints", https))).store().prefix());
    ControllerOptions c = ControllerOptions.fromJson(new JsonObject().put("store", new JsonObject()
        .put("endpoints", https).put("tls", new JsonObject().put("ca_file", ca.toString()))));
    assertEquals(c, ControllerOptions.fromJson(c.toJson()));

    java.util.function.Function<JsonObject, String> err = store -> controllerError(new JsonObject().put("store", store));
    JsonObject etcd = new JsonObject().put("type", "etcd").put("endpoints", https);
    assertTrue(err.apply(etcd.copy().put("prefix", "zlayer")).startsWith("store.prefix: "));
    assertTrue(err.apply(etcd.copy().put("prefix", 3)).startsWith("store.prefix: "));
    assertTrue(err.apply(new JsonObject().put("type", "embedded").put("prefix", "/z/")).startsWith("store.prefix: "));
    assertTrue(err.apply(etcd.copy().put("tls", new JsonObject().put("ca_file", dir.resolve("none.pem").toString())))
        .startsWith("store.tls.ca_file: "));
    assertTrue(err.apply(etcd.copy().put("tls", new JsonObject().put("cert_file", cert.toString())))
        .startsWith("store.tls.ca_file: "));
    assertTrue(err.apply(etcd.copy().put("tls", new JsonObject().put("ca_file", ca.toString())
        .put("cert_file", cert.toString()))).startsWith("store.tls.key_file: "));
    assertTrue(err.apply(etcd.copy().put("tls", new JsonObject().put("ca", ca.toString())))
        .startsWith("store.tls.ca: unknown key"));
    assertTrue(err.apply(new JsonObject().put("endpoints", new JsonArray().add("http://e:2379"))
        .put("tls", new JsonObject().put("ca_file", ca.toString()))).startsWith("store.tls: "));
    assertTrue(err.apply(new JsonObject().put("endpoints", new JsonArray().add("http://e:2379").add("https://f:2379")))
        .startsWith("store.endpoints: "));
  }

  @Test
  void roundTrips() {
    ControllerOptions c = ControllerOptions.fromJson(new JsonObject().put("node_id", 7)
        .put("peers", new JsonArray().add("10.0.0.2:3680")).put("worker_grpc_addr", "[::]:3670")
        .put("data_dir", "/var/lib/c").put("heartbeat_min_ttl", "250ms").put("heartbeat_min_ttl", 2)
        .put("tls_names", new JsonArray().add("ctl.example.com")).put("labels", new JsonObject().put("a", "b"))
        .put("store", new JsonObject().put("endpoints", new JsonArray().add("http://e:2379"))));
    assertEquals("etcd", c.store().type());
    assertEquals(c, ControllerOptions.fromJson(c.toJson()));
    WorkerOptions w = WorkerOptions.fromJson(worker().put("protocol", "http").put("executor", "external")
        .put("api_addr", "10.0.0.5:8080").put("heartbeat_grace", "1500ms").put("leave_on_terminate", true));
    assertEquals(w, WorkerOptions.fromJson(w.toJson()));
    assertTrue(w.leaveOnTerminate());
    assertFalse(WorkerOptions.fromJson(worker()).leaveOnTerminate(), "Nomad's default: a stopped agent stays registered");
    assertTrue(WorkerOptions.fromJson(worker().put("leave_on_terminate", "true")).leaveOnTerminate(), "as ZLAYER_LEAVE_ON_TERMINATE gives it");
    ConfigException bad = assertThrows(ConfigException.class, () -> WorkerOptions.fromJson(worker().put("leave_on_terminate", "yes")));
    assertTrue(bad.getMessage().startsWith("leave_on_terminate:"), bad.getMessage());
    assertEquals("1500ms", w.toJson().getString("heartbeat_grace"));
  }
}
