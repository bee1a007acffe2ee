package io.zlayer.worker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A second controller on a data dir that a live one holds is refused, naming the holder. */
class DataDirLockTest {

  @Test
  void aSecondControllerOnTheSameDataDirIsRefused(@TempDir Path dir) throws Exception {
    try (Processes procs = new Processes(dir)) {
      Processes.ControllerConfig config = procs.controllerConfig("c", "10s", "10s", "300s");
      Process first = procs.controller(config);
      Processes.awaitBridge(config, first, Duration.ofSeconds(40));
      Process second = procs.controller(config);
      assertTrue(second.waitFor(40, TimeUnit.SECONDS), "the second controller did not exit");
      String out = procs.output("controller");
      assertEquals(2, second.exitValue(), out);
      assertTrue(out.contains("is in use by pid " + first.pid() + " (bin/worker controller"), out);
      assertTrue(first.isAlive(), "the first controller must keep running");
    }
  }
}
