package io.zlayer.worker.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Worker (role {@code worker}) configuration in worker-tier mode. Keys that belong to the
 * controller side of the shared schema ({@code worker_ca_dir}, {@code node_id}, ...) are accepted
 * and ignored; unknown keys are errors. Relative paths stay relative.
 *
 * <p>{@code servers} are normalised to {@code https://host:port}: the connection is always TLS, so
 * {@code http://} is treated as {@code https://}, and a bare {@code host:port} gets the scheme.
 */
public record WorkerOptions(
    List<String> servers,
    Path tokenFile,
    Path identityDir,
    Path dataDir,
    Map<String, String> labels,
    HeartbeatOptions heartbeat,
    Protocol protocol,
    ExecutorKind executor,
    int bridgePort,
    String apiAddr,
    boolean leaveOnTerminate) {

  static final Path DEFAULT_DATA_DIR = Path.of("./data/worker");
  static final int DEFAULT_BRIDGE_PORT = 3672;
  static final String NO_SERVERS =
      "servers: no servers configured (list at least one controller, e.g. https://127.0.0.1:3670)";

  public WorkerOptions {
    servers = List.copyOf(servers);
    Objects.requireNonNull(tokenFile, "tokenFile");
    Objects.requireNonNull(identityDir, "identityDir");
    Objects.requireNonNull(dataDir, "dataDir");
    labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
    Objects.requireNonNull(heartbeat, "heartbeat");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(executor, "executor");
    Objects.requireNonNull(apiAddr, "apiAddr");
  }

  /** Validates and reads a worker config; throws {@link ConfigException} on the first problem. */
  public static WorkerOptions fromJson(JsonObject json) {
    Values.checkCommon(json, Role.WORKER);
    List<String> servers = new ArrayList<>();
    for (String s : Values.stringList(json, "servers")) {
      servers.add(normalizeServer(s));
    }
    if (servers.isEmpty()) {
      throw new ConfigException(NO_SERVERS);
    }
    Path dataDir = Values.path(json, "data_dir", DEFAULT_DATA_DIR);
    Path tokenFile = Values.path(json, "token_file", dataDir.resolve("token"));
    Path identityDir = Values.path(json, "identity_dir", dataDir.resolve("identity"));
    Map<String, String> labels = Values.labels(json);
    HeartbeatOptions heartbeat = HeartbeatOptions.fromJson(json);
    Protocol protocol = Values.enumValue(json, "protocol", Protocol.class, Protocol.GRPC);
    ExecutorKind executor = Values.enumValue(json, "executor", ExecutorKind.class, ExecutorKind.PROCESS);
    int bridgePort = (int) Values.integer(json, "bridge_port", -1, 65535, DEFAULT_BRIDGE_PORT,
        "a port number (1-65535) or -1 to disable");
    if (bridgePort == 0) {
      // Local tools find the bridge by this key: an ephemeral port could never be found.
      throw new ConfigException("bridge_port: 0 (an ephemeral port) cannot be used: local tools find the worker's "
          + "bridge by this number; choose a port (1-65535) or -1 to disable the bridge");
    }
    String apiAddr = Values.string(json, "api_addr", "").trim();
    // Nomad's key and default: a stopped agent stays registered unless told to leave.
    boolean leaveOnTerminate = Values.bool(json, "leave_on_terminate", false);
    return new WorkerOptions(servers, tokenFile, identityDir, dataDir, labels, heartbeat, protocol, executor,
        bridgePort, apiAddr, leaveOnTerminate);
  }

  /** {@code https://host:port} from an https/http URL or a bare host:port; validates host and port. */
  static String normalizeServer(String value) {
    String rest = value.trim();
    if (rest.startsWith("https://")) {
      rest = rest.substring(8);
    } else if (rest.startsWith("http://")) {
      rest = rest.substring(7);
    } else if (rest.contains("://")) {
      throw new ConfigException("servers: '" + value + "' must be an https://host:port URL");
    }
    if (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    if (rest.contains("/")) {
      throw new ConfigException("servers: '" + value + "' must be https://host:port without a path");
    }
    boolean hasPort = rest.startsWith("[") ? rest.contains("]:") : rest.contains(":");
    if (!hasPort) {
      throw new ConfigException("servers: '" + value + "' has no port (e.g. https://" + rest + ":3670)");
    }
    return "https://" + HostPort.parse("servers", rest);
  }

  /** The controller addresses from {@link #servers()}. */
  public List<HostPort> serverAddresses() {
    List<HostPort> out = new ArrayList<>(servers.size());
    for (String s : servers) {
      String rest = s;
      int scheme = rest.indexOf("://");
      if (scheme >= 0) {
        rest = rest.substring(scheme + 3);
      }
      if (rest.endsWith("/")) {
        rest = rest.substring(0, rest.length() - 1);
      }
      out.add(HostPort.parse("servers", rest));
    }
    return List.copyOf(out);
  }

  /** The canonical YAML/JSON form; {@code fromJson(toJson())} gives an equal record. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("mode", Values.MODE)
        .put("role", Values.lower(Role.WORKER))
        .put("servers", new JsonArray(new ArrayList<>(servers)))
        .put("data_dir", dataDir.toString())
        .put("token_file", tokenFile.toString())
        .put("identity_dir", identityDir.toString())
        .put("labels", Values.labelsJson(labels));
    heartbeat.toJson(json);
    return json
        .put("protocol", Values.lower(protocol))
        .put("executor", Values.lower(executor))
        .put("bridge_port", bridgePort)
        .put("api_addr", apiAddr)
        .put("leave_on_terminate", leaveOnTerminate);
  }
}
