package io.zlayer.worker.cli;

import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.controller.ControllerNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bin/worker ui}: prints the web console's URL with the admin token in its fragment (the
 * part after {@code #} never reaches a server or its logs; the page keeps it in sessionStorage).
 */
@Command(name = "ui", mixinStandardHelpOptions = true,
    description = "Print the web console's URL (with the admin token in the fragment, which no server sees).")
final class UiCommand implements Callable<Integer> {
  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "controller config (default: conf/controller.yaml when it exists here, else the "
          + "controller last started by this user)")
  Path config;
  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    ControllerOptions options = OperatorCommands.resolve(config);
    Path tokenFile = options.dataDir().resolve(ControllerNode.ADMIN_TOKEN_FILE);
    if (!Files.isReadable(tokenFile)) {
      throw new Cli.UsageException("cannot read the admin token " + tokenFile
          + ": is the controller running with data_dir " + options.dataDir() + "?");
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println(url(options.operatorHttpAddr(), Files.readString(tokenFile).trim()));
    out.flush();
    return Cli.EXIT_OK;
  }

  static String url(HostPort addr, String adminToken) {
    String host = addr.host();
    boolean loopback = addr.loopback();
    if (host.equals("0.0.0.0") || host.equals("::")) {
      host = "127.0.0.1"; // bound everywhere: this machine reaches it on loopback (plain TLS still applies)
    }
    String shown = host.contains(":") ? "[" + host + "]" : host;
    return (loopback ? "http" : "https") + "://" + shown + ":" + addr.port() + "/ui/#token=" + adminToken;
  }
}
