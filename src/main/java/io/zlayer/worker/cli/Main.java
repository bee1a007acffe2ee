package io.zlayer.worker.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/worker}: the controller, the worker agent, the dev mode and the operator tools. */
@Command(name = "worker", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "zlayer-worker: the worker tier of a ZLayer cluster.",
    subcommands = {
        CommandLine.HelpCommand.class,
        DevCommand.class,
        ControllerCommand.class,
        StartCommand.class,
        LeaveCommand.class,
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
        ControllersCommand.class,
        UiCommand.class,
        SimulateCommand.class,
        AutoComplete.GenerateCompletion.class,
    })
public final class Main {
  /** {@code --version}: the version the jar's manifest carries (Implementation-Version). */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Main.class.getPackage().getImplementationVersion();
      return new String[] {"zlayer-worker " + (version == null ? "(development build)" : version),
          "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
    }
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The whole command tree, with its error handling. */
  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    cli.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false)
        .description("Print a bash/zsh completion script: source <(bin/worker generate-completion)");
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println(Cli.describe(e));
      return e instanceof Cli.UsageException ? Cli.EXIT_CONFIG : Cli.EXIT_FAILURE;
    });
    return cli;
  }
}
