package io.zlayer.worker.cli;

import io.vertx.core.Future;
import io.zlayer.worker.config.ConfigLoader;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "controller", mixinStandardHelpOptions = true, description = "Run the control plane.")
final class ControllerCommand implements Callable<Integer> {
  @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "conf/controller.yaml",
      description = "controller config (default: ${DEFAULT-VALUE})")
  Path config;

  @Override
  public Integer call() throws Exception {
    Daemon daemon = new Daemon();
    ControllerOptions options = Cli.await(ConfigLoader.loadController(daemon.vertx, config), Duration.ofSeconds(30));
    DataDirLock.acquire(options.dataDir(), "bin/worker controller");
    ControllerNode node = Cli.await(ControllerNode.start(daemon.vertx, options), Duration.ofSeconds(60));
    LocalController.record(options);
    daemon.onSignal(() -> node.stop().eventually(() -> {
      LocalController.forget();
      return io.vertx.core.Future.succeededFuture();
    }));
    return daemon.runUntil(Future.<Integer>future(p -> { }));
  }
}
