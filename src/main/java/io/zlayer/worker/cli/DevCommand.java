package io.zlayer.worker.cli;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.SecureFiles;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/worker dev}: a controller and one worker in one process, embedded store, data under
 * {@code ./data}, the worker's token minted automatically (cf. {@code nomad agent -dev}). The
 * worker keeps its identity across runs, so a second run finds the same node.
 */
@Command(name = "dev", mixinStandardHelpOptions = true,
    description = "Run a controller and one worker in one process (embedded store, data under ./data).")
final class DevCommand implements Callable<Integer> {
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

  @Option(names = "--data", defaultValue = "data", description = "data directory (default: ${DEFAULT-VALUE})")
  Path data;
  @Option(names = "--port", defaultValue = "3670", description = "controller port (default: ${DEFAULT-VALUE})")
  int port;
  @Option(names = "--bridge-port", defaultValue = "3671", description = "operator bridge port (default: ${DEFAULT-VALUE})")
  int bridgePort;

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    Daemon daemon = new Daemon();
    ControllerOptions controllerOptions = ControllerOptions.fromJson(new JsonObject()
        .put("data_dir", data.resolve("controller").toString())
        .put("worker_grpc_addr", "127.0.0.1:" + port)
        .put("bridge_port", bridgePort));
    WorkerOptions workerOptions = WorkerOptions.fromJson(new JsonObject()
        .put("servers", new JsonArray().add("https://127.0.0.1:" + port))
        .put("data_dir", data.resolve("worker").toString())
        .put("labels", new JsonObject().put("zone", "dev"))
        .put("bridge_port", -1));

    DataDirLock.acquire(controllerOptions.dataDir(), "bin/worker dev");
    DataDirLock.acquire(workerOptions.dataDir(), "bin/worker dev");
    ControllerNode controller = Cli.await(ControllerNode.start(daemon.vertx, controllerOptions), Duration.ofSeconds(60));
    daemon.onSignal(controller::stop);
    LocalController.record(controllerOptions);
    mintTokenIfNeeded(controller, workerOptions);

    Future<JsonObject> joined = Future.future(p -> daemon.vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION,
        msg -> {
          if ("up".equals(msg.body().getString("state"))) {
            p.tryComplete(msg.body());
          }
        }));
    WorkerAgent worker = Cli.await(WorkerAgent.start(daemon.vertx, workerOptions), Duration.ofSeconds(60));
    // Ctrl-C: stop the worker and its replicas (keeping its identity for the next run), then the
    // controller: dev leaves nothing running behind it.
    daemon.onSignal(() -> worker.stop(WorkerAgent.StopMode.STOP_WORKLOADS).eventually(controller::stop)
        .onComplete(x -> LocalController.forget()));
    JsonObject up = Cli.await(joined, JOIN_TIMEOUT);
    long nodeId = up.getLong("node_id");
    out.println();
    out.println("zlayer-worker dev is running");
    out.println("  controller  https://127.0.0.1:" + controller.port() + "  cluster " + controller.controlPlane().clusterId()
        + "  (data in " + controllerOptions.dataDir() + ")");
    out.println("  operator    bridge on 127.0.0.1:" + bridgePort + ", admin token in "
        + controllerOptions.dataDir().resolve(ControllerNode.ADMIN_TOKEN_FILE));
    out.println("  console     http://127.0.0.1:" + controller.operatorPort() + "/ui/  (bin/worker ui prints it with the token;"
        + " metrics at /metrics)");
    out.println("  worker      joined as node " + nodeId + "  (identity in " + workerOptions.identityDir() + ")");
    out.println();
    out.println("Try, in another terminal:");
    out.println("  bin/worker nodes");
    out.println("  bin/worker assign " + nodeId + " web --indices 0,1 --command 'sleep 1000'");
    out.println("  bin/worker nodes --json");
    out.println("  bin/worker unassign " + nodeId + " web");
    out.println("  bin/worker token create --ttl 1h    # a token for another worker (bin/worker start)");
    out.println("Ctrl-C stops both.");
    out.flush();
    return daemon.runUntil(worker.exit().compose(code -> worker.stop(WorkerAgent.StopMode.STOP_WORKLOADS)
        .eventually(controller::stop).map(code)));
  }

  /** A first run has no worker identity: mint a token in-process and hand it to the worker. */
  private static void mintTokenIfNeeded(ControllerNode controller, WorkerOptions worker) throws Exception {
    if (Files.exists(worker.identityDir().resolve(Identity.CERT))) {
      return;
    }
    var token = Cli.await(controller.controlPlane().tokens().mint(Duration.ofHours(1), 1), Duration.ofSeconds(10));
    SecureFiles.writePrivate(worker.tokenFile(), token.encode() + "\n");
  }
}
