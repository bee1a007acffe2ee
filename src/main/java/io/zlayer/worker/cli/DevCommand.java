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
 *
 * <p>{@code --controllers N} (N > 1): a local etcd (Debian's {@code etcd-server}, on free loopback
 * ports with a temporary data directory) and N controllers on it sharing one CA (the first one's
 * {@code ca.pem}/{@code ca-key.pem} copied into the others' {@code worker_ca_dir}, as an operator
 * would), and a worker whose {@code servers} list them all; everything in a temporary directory,
 * removed on exit.
 */
@Command(name = "dev", mixinStandardHelpOptions = true,
    description = "Run a controller and one worker in one process (embedded store, data under ./data); "
        + "with --controllers N, a local etcd and N controllers.")
final class DevCommand implements Callable<Integer> {
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

  @Option(names = "--data", defaultValue = "data", description = "data directory (default: ${DEFAULT-VALUE})")
  Path data;
  @Option(names = "--port", defaultValue = "3670", description = "controller port (default: ${DEFAULT-VALUE})")
  int port;
  @Option(names = "--bridge-port", defaultValue = "3671", description = "operator bridge port (default: ${DEFAULT-VALUE})")
  int bridgePort;
  @Option(names = "--controllers", defaultValue = "1",
      description = "controllers to run (default: ${DEFAULT-VALUE}); more than one runs a local etcd (Debian's etcd-server)")
  int controllers;
  /** Port step between the controllers of {@code --controllers N}: 3670, 3680, 3690 ... */
  static final int PORT_STEP = 10;

  @Override
  public Integer call() throws Exception {
    if (controllers < 1 || controllers > 7) {
      System.err.println("--controllers takes 1 to 7");
      return 2;
    }
    if (controllers > 1) {
      return cluster();
    }
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

  /** {@code --controllers N}: a local etcd, N controllers sharing its cluster and CA, one worker listing them all. */
  private Integer cluster() throws Exception {
    PrintStream out = System.out;
    LocalEtcd etcd;
    try {
      etcd = LocalEtcd.start();
    } catch (IllegalStateException e) {
      System.err.println("bin/worker dev --controllers " + controllers + ": " + e.getMessage());
      return 2;
    }
    Path root = Files.createTempDirectory("zlayer-dev-cluster-");
    Daemon daemon = new Daemon();
    java.util.List<ControllerNode> nodes = new java.util.ArrayList<>();
    java.util.List<ControllerOptions> options = new java.util.ArrayList<>();
    Runnable cleanup = () -> {
      try {
        etcd.close();
        try (var files = Files.walk(root)) {
          files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
      } catch (Exception e) {
        System.err.println("could not clean up " + root + ": " + e.getMessage());
      }
    };
    java.util.function.Supplier<Future<Void>> stopControllers = () -> {
      Future<Void> chain = Future.succeededFuture();
      for (int i = nodes.size() - 1; i >= 0; i--) {
        ControllerNode c = nodes.get(i);
        chain = chain.eventually(c::stop);
      }
      return chain.onComplete(x -> {
        LocalController.forget();
        cleanup.run();
      });
    };
    daemon.onSignal(stopControllers::get);
    JsonArray servers = new JsonArray();
    for (int i = 1; i <= controllers; i++) {
      int step = (i - 1) * PORT_STEP;
      Path dataDir = root.resolve("controller" + i);
      ControllerOptions o = ControllerOptions.fromJson(new JsonObject()
          .put("node_id", i)
          .put("data_dir", dataDir.toString())
          .put("worker_grpc_addr", "127.0.0.1:" + (port + step))
          .put("bridge_port", bridgePort + step)
          .put("operator_http_addr", "127.0.0.1:" + (port + 3 + step))
          .put("store", new JsonObject().put("type", "etcd").put("endpoints", new JsonArray().add(etcd.endpoint()))));
      if (i > 1) {
        // The shared CA: the first controller's ca.pem and ca-key.pem, copied into this one's worker_ca_dir.
        Path from = options.get(0).workerCaDir();
        Files.createDirectories(o.workerCaDir());
        for (String f : java.util.List.of(io.zlayer.worker.pki.WorkerCa.CA_CERT_FILE, io.zlayer.worker.pki.WorkerCa.CA_KEY_FILE)) {
          Files.copy(from.resolve(f), o.workerCaDir().resolve(f));
        }
      }
      try {
        nodes.add(Cli.await(ControllerNode.start(daemon.vertx, o), Duration.ofSeconds(60)));
      } catch (Exception e) {
        Cli.await(stopControllers.get(), Duration.ofSeconds(30));
        throw e;
      }
      options.add(o);
      servers.add("https://127.0.0.1:" + nodes.get(i - 1).port());
    }
    LocalController.record(options.get(0));
    WorkerOptions workerOptions = WorkerOptions.fromJson(new JsonObject()
        .put("servers", servers)
        .put("data_dir", root.resolve("worker").toString())
        .put("labels", new JsonObject().put("zone", "dev"))
        .put("bridge_port", -1));
    mintTokenIfNeeded(nodes.get(0), workerOptions);
    Future<JsonObject> joined = Future.future(p -> daemon.vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION,
        msg -> {
          if ("up".equals(msg.body().getString("state"))) {
            p.tryComplete(msg.body());
          }
        }));
    WorkerAgent worker = Cli.await(WorkerAgent.start(daemon.vertx, workerOptions), Duration.ofSeconds(60));
    daemon.onSignal(() -> worker.stop(WorkerAgent.StopMode.STOP_WORKLOADS).eventually(stopControllers));
    JsonObject up = Cli.await(joined, JOIN_TIMEOUT);
    long nodeId = up.getLong("node_id");
    out.println();
    out.println("zlayer-worker dev is running: " + controllers + " controllers on a local etcd");
    out.println("  etcd        " + etcd.endpoint() + "  (pid " + etcd.pid() + ", temporary data)");
    for (int i = 0; i < nodes.size(); i++) {
      ControllerNode c = nodes.get(i);
      out.println("  controller" + (i + 1) + " https://127.0.0.1:" + c.port() + "  bridge 127.0.0.1:" + options.get(i).bridgePort()
          + "  operator http://127.0.0.1:" + c.operatorPort() + "/  (node_id " + (i + 1) + ")");
    }
    out.println("  cluster     " + nodes.get(0).controlPlane().clusterId() + ", one CA: " + options.get(0).workerCaDir()
        + " copied into the others' worker_ca_dir");
    out.println("  worker      joined as node " + nodeId + " through " + up.getString("server") + "; its servers: " + servers);
    out.println("  data        " + root + " (removed on exit)");
    out.println();
    out.println("Try, in another terminal:");
    out.println("  bin/worker controllers");
    out.println("  bin/worker nodes");
    out.println("  bin/worker assign " + nodeId + " web --indices 0 --command 'sleep 1000'");
    out.println("Ctrl-C stops the worker, the controllers and etcd.");
    out.flush();
    return daemon.runUntil(worker.exit().compose(code -> worker.stop(WorkerAgent.StopMode.STOP_WORKLOADS)
        .eventually(stopControllers).map(code)));
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
