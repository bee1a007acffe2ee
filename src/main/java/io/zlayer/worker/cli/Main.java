package io.zlayer.worker.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/worker}: the controller, the worker agent, the dev mode and the operator tools. */
@Command(name = "worker", mixinStandardHelpOptions = true, version = "zlayer-worker 0.1.0",
    description = "zlayer-worker: the worker tier of a ZLayer cluster.",
    subcommands = {
        DevCommand.class,
        ControllerCommand.class,
        StartCommand.class,
        OperatorCommands.Token.class,
        OperatorCommands.Nodes.class,
        OperatorCommands.Assign.class,
        OperatorCommands.Unassign.class,
        OperatorCommands.Drain.class,
        OperatorCommands.Undrain.class,
        OperatorCommands.Shutdown.class,
        OperatorCommands.PushConfig.class,
        OperatorCommands.Revoke.class,
        OperatorCommands.Deregister.class,
        OperatorCommands.Gc.class,
        SimulateCommand.class,
    })
public final class Main {
  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println(Cli.describe(e));
      return e instanceof Cli.UsageException ? Cli.EXIT_CONFIG : Cli.EXIT_FAILURE;
    });
    System.exit(cli.execute(args));
  }
}
