package io.zlayer.worker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/worker dev --controllers 3}, as a user runs it: a real process that starts a local etcd
 * (Debian's etcd-server), three controllers sharing one CA and a worker listing all three; the
 * operator's {@code controllers} command (no {@code -c}: the running one) lists the three and one
 * leader; SIGTERM stops everything, etcd included, and removes the temporary data.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DevControllersTest {
  private static final Pattern ETCD_PID = Pattern.compile("etcd +\\S+ +\\(pid (\\d+),");
  private static final Pattern DATA = Pattern.compile("data +(\\S+) \\(removed on exit\\)");

  @TempDir
  Path dir;
  Processes procs;

  @RegisterExtension
  final AfterTestExecutionCallback dumpOnFailure = Processes.dumpLogsOnFailure(() -> procs);

  @AfterEach
  void tearDown() throws Exception {
    if (procs != null) {
      procs.close();
    }
  }

  @Test
  void threeControllersOnALocalEtcdAndAWorker() throws Exception {
    assertTrue(Files.isExecutable(Path.of("/usr/bin/etcd")),
        "Debian's etcd-server is needed (.ci/run installs it): apt-get install -y etcd-server");
    procs = new Processes(dir);
    int port = freeBlock(3 * 10);
    int bridge = freeBlock(3 * 10);
    Process dev = procs.daemon("dev", "dev", "--controllers", "3", "--port", Integer.toString(port),
        "--bridge-port", Integer.toString(bridge), "--data", dir.resolve("data").toString());

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    String out = "";
    while (!out.contains("Ctrl-C stops") && System.nanoTime() < deadline && dev.isAlive()) {
      Thread.sleep(200); // bounded poll of the process's output file
      out = procs.output("dev");
    }
    assertTrue(out.contains("zlayer-worker dev is running: 3 controllers on a local etcd"), out);
    for (int i = 0; i < 3; i++) {
      assertTrue(out.contains("https://127.0.0.1:" + (port + 10 * i)), "controller " + (i + 1) + " on its port:\n" + out);
    }
    assertTrue(out.contains("worker      joined as node"), out);

    JsonArray controllers = new JsonObject(procs.cli("controllers", "--json").requireOk().stdout())
        .getJsonArray("controllers");
    assertEquals(3, controllers.size(), controllers.encodePrettily());
    long leaders = controllers.stream().map(JsonObject.class::cast).filter(c -> c.getBoolean("leader", false)).count();
    assertEquals(1, leaders, "exactly one leader: " + controllers.encodePrettily());

    Matcher etcd = ETCD_PID.matcher(out);
    assertTrue(etcd.find(), out);
    long etcdPid = Long.parseLong(etcd.group(1));
    Matcher data = DATA.matcher(out);
    assertTrue(data.find(), out);
    Path root = Path.of(data.group(1));
    assertTrue(Files.isDirectory(root), root.toString());

    dev.destroy(); // SIGTERM, as Ctrl-C
    assertTrue(dev.waitFor(60, TimeUnit.SECONDS), "dev stopped within 60 s of SIGTERM");
    assertFalse(ProcessHandle.of(etcdPid).map(ProcessHandle::isAlive).orElse(false), "etcd stopped with dev");
    assertFalse(Files.exists(root), "the temporary data is removed: " + root);
  }

  /** The first of {@code n} consecutive loopback ports free right now (from a random start). */
  private static int freeBlock(int n) throws Exception {
    for (int attempt = 0; attempt < 50; attempt++) {
      int start = 20_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(30_000);
      boolean free = true;
      for (int p = start; p < start + n && free; p++) {
        try (ServerSocket s = new ServerSocket(p, 1, java.net.InetAddress.getLoopbackAddress())) {
          s.setReuseAddress(true);
        } catch (java.io.IOException e) {
          free = false;
        }
      }
      if (free) {
        return start;
      }
    }
    throw new IllegalStateException("no block of " + n + " free loopback ports");
  }
}
