package io.zlayer.worker.cli;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.WorkerBridgeVerticle;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.config.ConfigLoader;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/worker leave}: asks the running agent, over its loopback bridge, to leave the
 * cluster (deregister, stop its workloads, delete its identity, exit 0), as {@code nomad node
 * drain} plus {@code leave_on_terminate} would. Prints one line once the agent confirmed.
 */
@Command(name = "leave", mixinStandardHelpOptions = true,
    description = "Ask the running worker agent to leave the cluster: it deregisters, stops its workloads, deletes"
        + " its identity and exits 0 (joining again needs a new token). A plain SIGTERM keeps the node registered.")
final class LeaveCommand implements Callable<Integer> {
  @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "conf/worker.yaml",
      description = "worker config, for data_dir and bridge_port (default: ${DEFAULT-VALUE})")
  Path config;
  @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "", description = "why, recorded by the controller")
  String reason;
  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Vertx vertx = Vertx.vertx();
    WorkerOptions options;
    try {
      options = Cli.await(ConfigLoader.loadWorker(vertx, config), Duration.ofSeconds(30));
    } finally {
      Cli.closeQuietly(vertx);
    }
    if (options.bridgePort() < 0) {
      throw new Cli.UsageException("the worker's bridge is disabled (bridge_port: -1 in " + config
          + "): bin/worker leave needs it; stop the agent and deregister the node with bin/worker deregister NODE");
    }
    Path tokenFile = options.dataDir().resolve(WorkerBridgeVerticle.TOKEN_FILE);
    if (!Files.isReadable(tokenFile)) {
      throw new Cli.UsageException("cannot read the bridge token " + tokenFile + ": is the worker agent running with"
          + " data_dir " + options.dataDir() + "?");
    }
    JsonObject reply;
    try (OperatorBridge bridge = OperatorBridge.worker(options.bridgePort(), SecureFiles.readPrivate(tokenFile).trim())) {
      reply = bridge.request(Addresses.WORKER_LEAVE, new JsonObject().put("reason", reason));
    } catch (java.net.ConnectException e) {
      throw new Cli.UsageException("no worker agent answers on 127.0.0.1:" + options.bridgePort()
          + " (bridge_port in " + config + "): is it running?");
    } catch (IOException e) {
      throw new IOException("the worker agent did not answer: " + e.getMessage(), e);
    } catch (OperatorBridge.RefusedException e) {
      throw new Cli.UsageException("the worker did not leave: " + e.getMessage());
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("node " + reply.getValue("node_id") + " deregistered; its workloads are stopped and its identity"
        + " deleted; the agent exits");
    out.flush();
    return Cli.EXIT_OK;
  }
}
