package io.zlayer.worker.cli;

import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.config.ConfigLoader;
import io.zlayer.worker.config.WorkerOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "start", mixinStandardHelpOptions = true,
    description = "Run the worker agent: join with the bootstrap token (first start) and serve assignments.")
final class StartCommand implements Callable<Integer> {
  @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "conf/worker.yaml",
      description = "worker config (default: ${DEFAULT-VALUE})")
  Path config;

  @Override
  public Integer call() throws Exception {
    Daemon daemon = new Daemon();
    WorkerOptions options = Cli.await(ConfigLoader.loadWorker(daemon.vertx, config), Duration.ofSeconds(30));
    DataDirLock.acquire(options.dataDir(), "bin/worker start");
    WorkerAgent agent = Cli.await(WorkerAgent.start(daemon.vertx, options), Duration.ofSeconds(60));
    // SIGTERM / Ctrl-C: the agent only (identity kept, node registered, workloads keep running for
    // the next run to adopt), unless leave_on_terminate asks to leave the cluster.
    daemon.onSignal(() -> agent.stop(options.leaveOnTerminate() ? WorkerAgent.StopMode.LEAVE : WorkerAgent.StopMode.DETACH));
    // A Shutdown command or bin/worker leave: the agent has deregistered; stop and exit with its code.
    return daemon.runUntil(agent.exit().compose(code -> agent.stopAfterExit().map(code)));
  }
}
