package io.zlayer.worker.store;

import static io.zlayer.worker.store.EmbeddedStoreTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** kill -9 of a writing process loses no acknowledged write (synchronous=NORMAL, WAL). */
@ExtendWith(VertxExtension.class)
class EmbeddedStoreCrashTest {

  @TempDir Path dir;

  @Test
  void ackedWritesSurviveSigkill(Vertx vertx) throws Exception {
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        StoreWriterMain.class.getName(), dir.toString())
        .redirectError(dir.resolve("child-stderr.txt").toFile())
        .start();
    // A reader thread feeds lines into a queue so every wait below has a timeout.
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String l; (l = r.readLine()) != null; ) {
          lines.add(l);
        }
      } catch (Exception ignored) {
        // stream closes when the child dies
      }
    }, "child-stdout");
    reader.setDaemon(true);
    reader.start();

    int lastAck = -1;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try {
      while (lastAck < 199) {
        long left = deadline - System.nanoTime();
        String line = lines.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
        if (line == null) {
          throw new AssertionError("child acked only " + (lastAck + 1) + " writes in 60s, alive="
              + child.isAlive());
        }
        if (line.startsWith("acked ")) {
          lastAck = Integer.parseInt(line.substring(6).trim());
        }
      }
    } finally {
      child.destroyForcibly(); // SIGKILL on Unix: no shutdown hooks, no clean close
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
    }
    reader.join(TimeUnit.SECONDS.toMillis(10));
    // Acks printed between our last poll and the kill also count.
    for (String line : lines) {
      if (line.startsWith("acked ")) {
        lastAck = Math.max(lastAck, Integer.parseInt(line.substring(6).trim()));
      }
    }
    assertTrue(child.exitValue() != 0, "child must have been killed, not exited");

    EmbeddedStore store = await(EmbeddedStore.open(vertx, dir));
    try {
      List<KeyValue> all = await(store.range("k"));
      long revision = await(store.revision());
      System.out.printf("crash test: %d acked, %d present, revision %d%n", lastAck + 1, all.size(), revision);
      for (int i = 0; i <= lastAck; i++) {
        int idx = i;
        KeyValue kv = await(store.get("k" + i)).orElseThrow(() -> new AssertionError("acked key k" + idx + " lost"));
        assertEquals("value-" + i, kv.value());
        assertEquals(i + 1, kv.modRevision());
      }
      assertTrue(all.size() >= lastAck + 1);
      assertEquals(all.size(), revision); // one key per revision, nothing torn
    } finally {
      await(store.close());
    }
  }
}
