package io.zlayer.worker.cli;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.config.ConfigLoader;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.Durations;
import io.zlayer.worker.controller.ControllerNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The operator tools: each sends one request to the local controller over its loopback bridge. */
final class OperatorCommands {
  private OperatorCommands() {
  }

  /** {@code -c}: which controller (its data_dir holds the admin token, bridge_port says where). */
  static final class Target {
    static final Path DEFAULT_CONFIG = Path.of("conf/controller.yaml");

    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
        description = "controller config (default: the controller this user is running, recorded in "
            + "~/.zlayer/controller.json, else conf/controller.yaml when it exists here)")
    Path config;

    JsonObject call(String address, JsonObject body) throws Exception {
      ControllerOptions options = resolve(config);
      try (OperatorBridge bridge = openBridge(options)) {
        return bridge.request(address, body);
      } catch (java.net.ConnectException e) {
        throw new Cli.UsageException("cannot reach the controller's operator bridge on 127.0.0.1:"
            + options.bridgePort() + ": is the controller running?");
      } catch (OperatorBridge.RefusedException e) {
        throw new Cli.UsageException("error: " + e.getMessage());
      }
    }
  }

  /**
   * The controller an operator command talks to: the {@code -c} file (which must exist), else
   * the controller this user is running ({@link LocalController}, its process alive), else
   * {@code conf/controller.yaml} in this directory, else the one this user started last, else the
   * defaults.
   */
  static ControllerOptions resolve(Path config) throws Exception {
    if (config != null) {
      if (!Files.exists(config)) {
        throw new Cli.UsageException("-c " + config + ": no such file");
      }
      return loadController(config);
    }
    // A controller this user is running (`bin/worker dev --bridge-port 23971`, a `-c` elsewhere)
    // is the one meant, even from a directory whose conf/controller.yaml names other ports.
    Optional<ControllerOptions> running = LocalController.running();
    if (running.isPresent()) {
      return running.get();
    }
    if (Files.exists(Target.DEFAULT_CONFIG)) {
      return loadController(Target.DEFAULT_CONFIG);
    }
    return LocalController.recorded().orElseGet(() -> ControllerOptions.fromJson(new JsonObject()));
  }

  /** The controller config at {@code config} (which must exist). */
  static ControllerOptions loadController(Path config) throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      return Cli.await(ConfigLoader.loadController(vertx, config), Duration.ofSeconds(10));
    } finally {
      Cli.closeQuietly(vertx);
    }
  }

  /** A bridge client to the local controller, authenticated by its {@code <data_dir>/admin.token}. */
  static OperatorBridge openBridge(ControllerOptions options) throws java.io.IOException {
    Path tokenFile = options.dataDir().resolve(ControllerNode.ADMIN_TOKEN_FILE);
    if (!Files.isReadable(tokenFile)) {
      throw new Cli.UsageException("cannot read the admin token " + tokenFile
          + ": is the controller running with data_dir " + options.dataDir() + "?");
    }
    return new OperatorBridge("127.0.0.1", options.bridgePort(), Files.readString(tokenFile).trim());
  }

  @Command(name = "token", mixinStandardHelpOptions = true, description = "Bootstrap tokens.",
      subcommands = {Token.Create.class})
  static final class Token {
    @Command(name = "create", mixinStandardHelpOptions = true,
        description = "Mint a bootstrap token; prints the token alone on stdout.")
    static final class Create implements Callable<Integer> {
      @Mixin
      Target target;
      @Option(names = "--ttl", defaultValue = "1h", description = "lifetime (default: ${DEFAULT-VALUE})")
      String ttl;
      @Option(names = "--uses", defaultValue = "1", description = "registrations it admits (default: ${DEFAULT-VALUE})")
      int uses;
      @Spec
      CommandSpec spec;

      @Override
      public Integer call() throws Exception {
        Duration lifetime = duration("--ttl", ttl);
        JsonObject reply = target.call(Addresses.OPERATOR_TOKEN_CREATE,
            new JsonObject().put("ttl_secs", lifetime.toSeconds()).put("uses", uses));
        PrintWriter out = spec.commandLine().getOut();
        out.println(reply.getString("token"));
        out.flush();
        return Cli.EXIT_OK;
      }
    }
  }

  @Command(name = "nodes", mixinStandardHelpOptions = true, description = "List worker nodes.")
  static final class Nodes implements Callable<Integer> {
    @Mixin
    Target target;
    @Option(names = "--json", description = "print JSON")
    boolean json;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      JsonArray nodes = target.call(Addresses.OPERATOR_NODES_LIST, new JsonObject()).getJsonArray("nodes", new JsonArray());
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.println(new JsonObject().put("nodes", nodes).encodePrettily());
      } else {
        out.print(NodeTable.render(nodes));
      }
      out.flush();
      return Cli.EXIT_OK;
    }
  }

  /**
   * A command about one node: {@code NODE} is its first parameter; it sends one operator request
   * and prints one line.
   */
  abstract static class NodeCommand implements Callable<Integer> {
    @Mixin
    Target target;
    @Parameters(index = "0", paramLabel = "NODE", description = "the node id (as `bin/worker nodes` lists it)")
    long node;
    @Spec
    CommandSpec spec;

    /** Sends the request; returns the line to print. */
    abstract String run() throws Exception;

    @Override
    public Integer call() throws Exception {
      spec.commandLine().getOut().println(run());
      return Cli.EXIT_OK;
    }

    JsonObject request(String address, JsonObject body) throws Exception {
      return target.call(address, body.put("node_id", node));
    }

    /** Sends a request answered with the node's new state; returns "node N is STATE". */
    String changeState(String address, JsonObject body) throws Exception {
      return "node " + node + " is " + request(address, body).getString("state");
    }
  }

  @Command(name = "assign", mixinStandardHelpOptions = true,
      description = "Assign replicas of a service to a node: the worker runs one process per index "
          + "(ZLAYER_SERVICE, ZLAYER_ROLE, ZLAYER_REPLICA and --env in its environment). Assigning the "
          + "same service again replaces its replicas.")
  static final class Assign extends NodeCommand {
    @Parameters(index = "1", paramLabel = "SERVICE", description = "the service's name")
    String service;
    @Option(names = "--role", defaultValue = "default", description = "the replicas' role (default: ${DEFAULT-VALUE})")
    String role;
    @Option(names = "--indices", required = true, split = ",", paramLabel = "I,J,...",
        description = "replica indices to run on this node, e.g. 0,1,2")
    List<Integer> indices;
    @Option(names = "--command", required = true, description = "each replica's command, run through /bin/sh -c")
    String command;
    @Option(names = "--env", paramLabel = "K=V", description = "an environment variable for the replicas (repeatable)")
    Map<String, String> env;

    @Override
    String run() throws Exception {
      JsonObject reply = request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("service", service).put("role", role)
          .put("indices", new JsonArray(new ArrayList<>(indices))).put("command", command)
          .put("env", env == null ? new JsonObject() : new JsonObject(new java.util.HashMap<>(env))));
      return "assigned " + service + " " + indices + " to node " + node + " (revision " + reply.getLong("revision") + ")";
    }
  }

  @Command(name = "unassign", mixinStandardHelpOptions = true, description = "Remove a service from a node.")
  static final class Unassign extends NodeCommand {
    @Parameters(index = "1", paramLabel = "SERVICE", description = "the service to remove (its replicas stop)")
    String service;

    @Override
    String run() throws Exception {
      JsonObject reply = request(Addresses.OPERATOR_UNASSIGN, new JsonObject().put("service", service));
      return "unassigned " + service + " from node " + node + " (revision " + reply.getLong("revision") + ")";
    }
  }

  @Command(name = "drain", mixinStandardHelpOptions = true,
      description = "Drain a node: no new work; its processes stop by the deadline.")
  static final class Drain extends NodeCommand {
    @Option(names = "--deadline", defaultValue = "10m",
        description = "how long its processes get to stop, e.g. 30s, 10m (default: ${DEFAULT-VALUE})")
    String deadline;

    @Override
    String run() throws Exception {
      JsonObject reply = request(Addresses.OPERATOR_DRAIN,
          new JsonObject().put("deadline_secs", duration("--deadline", deadline).toSeconds()));
      return "node " + node + " draining (command " + reply.getLong("command_id") + ")";
    }
  }

  @Command(name = "undrain", mixinStandardHelpOptions = true,
      description = "Undrain a node: it takes work again and runs its assigned services again.")
  static final class Undrain extends NodeCommand {
    @Override
    String run() throws Exception {
      return changeState(Addresses.OPERATOR_UNDRAIN, new JsonObject());
    }
  }

  @Command(name = "shutdown", mixinStandardHelpOptions = true,
      description = "Ask a node's worker to deregister and exit.")
  static final class Shutdown extends NodeCommand {
    @Option(names = "--reason", defaultValue = "operator request", description = "told to the worker (default: ${DEFAULT-VALUE})")
    String reason;

    @Override
    String run() throws Exception {
      JsonObject reply = request(Addresses.OPERATOR_SHUTDOWN, new JsonObject().put("reason", reason));
      return "node " + node + " asked to shut down (command " + reply.getLong("command_id") + ")";
    }
  }

  // No mixinStandardHelpOptions: its --version is the config's version, not the program's.
  @Command(name = "push-config",
      description = "Push a YAML config (labels, heartbeat_min_ttl, heartbeat_max_ttl) to a node.")
  static final class PushConfig extends NodeCommand {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;
    @Parameters(index = "1", paramLabel = "FILE", description = "the YAML file to push")
    Path file;
    @Option(names = "--version", defaultValue = "0", description = "config version (default: now in epoch seconds)")
    long version;

    @Override
    String run() throws Exception {
      String yaml = Files.readString(file);
      long v = version > 0 ? version : System.currentTimeMillis() / 1000;
      JsonObject reply = request(Addresses.OPERATOR_PUSH_CONFIG, new JsonObject().put("version", v).put("yaml", yaml));
      return "config version " + v + " sent to node " + node + " (command " + reply.getLong("command_id") + ")";
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Revoke a node's certificate: it is quarantined and its streams are cut.")
  static final class Revoke extends NodeCommand {
    @Override
    String run() throws Exception {
      return changeState(Addresses.OPERATOR_REVOKE, new JsonObject());
    }
  }

  @Command(name = "deregister", mixinStandardHelpOptions = true,
      description = "Remove a node that will not come back (e.g. unreachable for good, or revoked): it is marked "
          + "deregistered, its lease dropped and its streams cut. Joining again needs a new token.")
  static final class Deregister extends NodeCommand {
    @Option(names = "--reason", defaultValue = "operator request", description = "recorded as the state's cause")
    String reason;

    @Override
    String run() throws Exception {
      return changeState(Addresses.OPERATOR_DEREGISTER, new JsonObject().put("reason", reason));
    }
  }

  @Command(name = "gc", mixinStandardHelpOptions = true,
      description = "Forget every deregistered node: its record leaves the controller (memory and store); "
          + "its event history stays and no node is given its id again.")
  static final class Gc implements Callable<Integer> {
    @Mixin
    Target target;
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      JsonObject reply = target.call(Addresses.OPERATOR_GC, new JsonObject());
      PrintWriter out = spec.commandLine().getOut();
      out.println("collected " + reply.getInteger("collected", 0) + " deregistered node(s)");
      out.flush();
      return Cli.EXIT_OK;
    }
  }

  static Duration duration(String option, String value) {
    try {
      return Durations.parse(option, value);
    } catch (RuntimeException e) {
      throw new Cli.UsageException(e.getMessage());
    }
  }
}
