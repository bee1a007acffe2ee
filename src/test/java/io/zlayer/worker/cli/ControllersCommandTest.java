package io.zlayer.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.it.TestCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bin/worker controllers} against a controller on the embedded store: it alone, and it leads. */
@ExtendWith(VertxExtension.class)
class ControllersCommandTest {
  @TempDir
  Path dir;

  @Test
  void aControllerAloneOnItsStoreLeads(Vertx vertx) throws Exception {
    ControllerOptions options = TestCluster.controllerOptions(dir, new JsonObject().put("node_id", 7));
    ControllerNode controller = TestCluster.startController(vertx, options);
    try {
      Path conf = Files.writeString(dir.resolve("controller.yaml"),
          "data_dir: " + options.dataDir() + "\nbridge_port: " + options.bridgePort() + "\n");
      CommandLine cli = Main.commandLine();
      StringWriter out = new StringWriter();
      cli.setOut(new PrintWriter(out));
      cli.setErr(new PrintWriter(new StringWriter()));
      assertEquals(Cli.EXIT_OK, cli.execute("controllers", "-c", conf.toString()));
      String[] lines = out.toString().split("\n");
      assertEquals(2, lines.length, out.toString());
      assertTrue(lines[1].startsWith("7 ") && lines[1].contains(":" + controller.port())
          && lines[1].contains("leader (asked)"), out.toString());
    } finally {
      TestCluster.await(controller.stop());
    }
  }
}
