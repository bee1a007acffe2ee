package io.zlayer.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Every command and option has help, `help` and `--version` work, a mistyped -c is an error. */
class CliHelpTest {

  private record Run(int code, String out, String err) {
  }

  private static Run run(String... args) {
    CommandLine cli = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  private static List<CommandLine> allCommands(CommandLine root) {
    List<CommandLine> all = new ArrayList<>();
    all.add(root);
    for (CommandLine sub : root.getSubcommands().values()) {
      all.addAll(allCommands(sub));
    }
    return all;
  }

  @Test
  void everyCommandAnswersHelpAndDescribesEveryOptionAndParameter() {
    for (CommandLine command : allCommands(Main.commandLine())) {
      List<String> path = new ArrayList<>();
      for (CommandLine c = command; c.getParent() != null; c = c.getParent()) {
        path.add(0, c.getCommandName());
      }
      if (path.contains("help")) {
        continue;
      }
      path.add("--help");
      Run r = run(path.toArray(String[]::new));
      assertEquals(0, r.code(), path + " failed: " + r.err());
      assertTrue(r.out().contains("Usage:"), path + " printed no usage: " + r.out());
      var spec = command.getCommandSpec();
      assertTrue(spec.usageMessage().description().length > 0, path + " has no description");
      for (var option : spec.options()) {
        assertTrue(option.description().length > 0 && !option.description()[0].isBlank()
            || option.hidden(), path + " option " + option.longestName() + " has no description");
      }
      for (var param : spec.positionalParameters()) {
        assertTrue(param.description().length > 0, path + " parameter " + param.paramLabel() + " has no description");
      }
    }
  }

  @Test
  void helpCommandAndVersion() {
    Run help = run("help", "assign");
    assertEquals(0, help.code(), help.err());
    assertTrue(help.out().contains("--indices"), help.out());
    Run version = run("--version");
    assertEquals(0, version.code());
    assertTrue(version.out().startsWith("zlayer-worker "), version.out());
    Run completion = run("generate-completion");
    assertEquals(0, completion.code());
    assertTrue(completion.out().contains("complete -F"), "not a bash completion script");
  }

  @Test
  void aMistypedConfigPathIsAnError(@TempDir Path dir) {
    Run r = run("nodes", "-c", dir.resolve("nope.yaml").toString());
    assertEquals(Cli.EXIT_CONFIG, r.code());
    assertTrue(r.err().contains("nope.yaml: no such file"), r.err());
  }
}
