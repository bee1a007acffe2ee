package io.zlayer.worker.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Controller (role {@code server}) configuration in worker-tier mode. Keys that belong to the
 * worker side of the shared schema ({@code servers}, {@code token_file}, ...) are accepted and
 * ignored; unknown keys are errors. Relative paths stay relative.
 */
public record ControllerOptions(
    long nodeId,
    List<String> peers,
    HostPort workerGrpcAddr,
    Path dataDir,
    Path workerCaDir,
    StoreOptions store,
    HeartbeatOptions heartbeat,
    List<String> tlsNames,
    Duration workerCertValidity,
    Duration nodeGcThreshold,
    int bridgePort,
    Map<String, String> labels,
    HostPort operatorHttpAddr,
    ConnectionLimits connections,
    int historyWindow) {

  static final HostPort DEFAULT_WORKER_GRPC_ADDR = new HostPort("0.0.0.0", 3670);
  static final Path DEFAULT_DATA_DIR = Path.of("./data/controller");
  static final Duration DEFAULT_WORKER_CERT_VALIDITY = Duration.ofDays(30);
  static final int DEFAULT_BRIDGE_PORT = 3671;
  /** The operator listener (metrics, /v1, console): loopback, plain HTTP, unless configured elsewhere. */
  static final HostPort DEFAULT_OPERATOR_HTTP_ADDR = new HostPort("127.0.0.1", 3673);
  /** How long a deregistered node stays listed before it is collected (Nomad's node_gc_threshold). */
  static final Duration DEFAULT_NODE_GC_THRESHOLD = Duration.ofHours(24);
  /**
   * Events kept per node in each of its logs (assignments, commands); a worker resuming from
   * before them gets a resync. 1,000 covers a worker away through a burst of changes without a
   * resync; the store then holds at most ~1,000 events per node and log.
   */
  static final int DEFAULT_HISTORY_WINDOW = 1000;
  static final int MIN_HISTORY_WINDOW = 16;
  static final int MAX_HISTORY_WINDOW = 1_000_000;

  public ControllerOptions {
    peers = List.copyOf(peers);
    Objects.requireNonNull(workerGrpcAddr, "workerGrpcAddr");
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(workerCaDir, "workerCaDir");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(heartbeat, "heartbeat");
    tlsNames = List.copyOf(tlsNames);
    Objects.requireNonNull(workerCertValidity, "workerCertValidity");
    Objects.requireNonNull(nodeGcThreshold, "nodeGcThreshold");
    labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
    Objects.requireNonNull(operatorHttpAddr, "operatorHttpAddr");
    Objects.requireNonNull(connections, "connections");
  }

  /** Validates and reads a controller config; throws {@link ConfigException} on the first problem. */
  public static ControllerOptions fromJson(JsonObject json) {
    Values.checkCommon(json, Role.SERVER);
    long nodeId = Values.integer(json, "node_id", 0, Long.MAX_VALUE, 1, "a non-negative integer");
    List<String> peers = Values.stringList(json, "peers");
    for (String p : peers) {
      HostPort.parse("peers", p);
    }
    HostPort grpc = hostPort(json, "worker_grpc_addr", DEFAULT_WORKER_GRPC_ADDR, "0.0.0.0:3670");
    Path dataDir = Values.path(json, "data_dir", DEFAULT_DATA_DIR);
    Path caDir = Values.path(json, "worker_ca_dir", dataDir.resolve("ca"));
    StoreOptions store = StoreOptions.fromValue(json.getValue("store"));
    HeartbeatOptions heartbeat = HeartbeatOptions.fromJson(json);
    List<String> tlsNames = Values.stringList(json, "tls_names");
    for (String n : tlsNames) {
      if (n.chars().anyMatch(Character::isWhitespace)) {
        throw new ConfigException("tls_names: '" + n + "' is not a DNS name or IP address");
      }
    }
    Duration validity = Values.duration(json, "worker_cert_validity", DEFAULT_WORKER_CERT_VALIDITY);
    if (validity.compareTo(Duration.ofHours(1)) < 0) {
      throw new ConfigException("worker_cert_validity: must be at least 1h, got " + Durations.format(validity));
    }
    Duration nodeGc = Values.duration(json, "node_gc_threshold", DEFAULT_NODE_GC_THRESHOLD);
    // No ephemeral port: the operator tools find the bridge by this number in the same config.
    int bridgePort = (int) Values.integer(json, "bridge_port", 1, 65535, DEFAULT_BRIDGE_PORT,
        "a fixed port number 1-65535 (the operator tools connect to it; 0 = ephemeral is not allowed)");
    Map<String, String> labels = Values.labels(json);
    HostPort operatorHttp = hostPort(json, "operator_http_addr", DEFAULT_OPERATOR_HTTP_ADDR, "127.0.0.1:3673");
    int historyWindow = (int) Values.integer(json, "history_window", MIN_HISTORY_WINDOW, MAX_HISTORY_WINDOW,
        DEFAULT_HISTORY_WINDOW, "events kept per node and log, " + MIN_HISTORY_WINDOW + "-" + MAX_HISTORY_WINDOW);
    return new ControllerOptions(nodeId, peers, grpc, dataDir, caDir, store, heartbeat, tlsNames, validity,
        nodeGc, bridgePort, labels, operatorHttp, ConnectionLimits.fromJson(json), historyWindow);
  }

  private static HostPort hostPort(JsonObject json, String key, HostPort fallback, String example) {
    Object addr = json.getValue(key);
    if (addr == null) {
      return fallback;
    }
    if (addr instanceof String s) {
      return HostPort.parse(key, s);
    }
    throw new ConfigException(key + ": expected host:port (e.g. " + example + "), got " + Values.describe(addr));
  }

  /** The canonical YAML/JSON form; {@code fromJson(toJson())} gives an equal record. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("mode", Values.MODE)
        .put("role", Values.lower(Role.SERVER))
        .put("node_id", nodeId)
        .put("peers", new JsonArray(new ArrayList<>(peers)))
        .put("worker_grpc_addr", workerGrpcAddr.toString())
        .put("data_dir", dataDir.toString())
        .put("worker_ca_dir", workerCaDir.toString())
        .put("store", store.toJson());
    heartbeat.toJson(json);
    connections.toJson(json);
    return json
        .put("tls_names", new JsonArray(new ArrayList<>(tlsNames)))
        .put("worker_cert_validity", Durations.format(workerCertValidity))
        .put("node_gc_threshold", Durations.format(nodeGcThreshold))
        .put("bridge_port", bridgePort)
        .put("labels", Values.labelsJson(labels))
        .put("operator_http_addr", operatorHttpAddr.toString())
        .put("history_window", historyWindow);
  }
}
