package io.zlayer.worker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.controller.ControllerNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, item 13 with the real client: grpc-js cancels a ReportStatus call after its first ack
 * and opens WatchAssignments on the same channel; the controller must not drop the connection.
 * Runs only when {@code -Dzlayer.grpcjs.modules=<dir containing @grpc/grpc-js and @grpc/proto-loader>}
 * is given (and {@code node} is on the PATH). {@code -Dzlayer.grpcjs.tries} (12),
 * {@code -Dzlayer.grpcjs.busy} (CPU-bound {@code yes} processes during the run, 0).
 */
@ExtendWith(VertxExtension.class)
class GrpcJsCancelTest {
  @TempDir
  Path dir;

  @Test
  void grpcJsCancelThenWatchKeepsTheConnection(Vertx vertx) throws Exception {
    String modules = System.getProperty("zlayer.grpcjs.modules");
    assumeTrue(modules != null && Files.isDirectory(Path.of(modules, "@grpc", "grpc-js")), "grpc-js not installed");
    int tries = Integer.getInteger("zlayer.grpcjs.tries", 12);
    int busy = Integer.getInteger("zlayer.grpcjs.busy", 0);
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    List<Process> hogs = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    try {
      Identity worker = RawWorker.register(vertx, controller);
      Path pems = Files.createDirectories(dir.resolve("pems"));
      Files.writeString(pems.resolve("ca.pem"), controller.controlPlane().ca().certificatePem());
      Files.writeString(pems.resolve("cert.pem"), worker.certPem());
      Files.writeString(pems.resolve("key.pem"), worker.keyPem());
      Path script = dir.resolve("cancel-then-watch.js");
      try (var in = GrpcJsCancelTest.class.getResourceAsStream("/grpcjs/cancel-then-watch.js")) {
        Files.copy(in, script);
      }
      for (int i = 0; i < busy; i++) {
        hogs.add(new ProcessBuilder("yes").redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
      }
      ProcessBuilder pb = new ProcessBuilder("node", script.toString(), String.valueOf(controller.port()),
          pems.toString(), Path.of("src/main/proto").toAbsolutePath().toString(), String.valueOf(worker.nodeId()),
          String.valueOf(tries)).redirectErrorStream(true);
      pb.environment().put("NODE_PATH", modules);
      Process node = pb.start();
      try (BufferedReader out = new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          System.out.println("grpc-js: " + line);
          lines.add(line);
        }
      }
      if (!node.waitFor(60, TimeUnit.SECONDS)) {
        node.destroyForcibly();
      }
    } finally {
      for (Process p : hogs) {
        p.destroy();
      }
      TestCluster.await(controller.stop());
    }
    long dropped = lines.stream().filter(l -> l.contains("dropped")).count();
    System.out.printf("grpc-js cancel then watch: %d tries, %d dropped, %d busy processes%n", tries, dropped, busy);
    assertEquals(tries, lines.stream().filter(l -> l.startsWith("try ")).count(), String.join("\n", lines));
    assertEquals(0, dropped, String.join("\n", lines));
  }
}
