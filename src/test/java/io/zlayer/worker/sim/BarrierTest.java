package io.zlayer.worker.sim;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulator processes' rendezvous: all wait for the last one; a missing one costs the timeout, not a hang. */
class BarrierTest {
  @TempDir
  Path dir;

  private static Progress quiet() {
    PrintStream out = new PrintStream(new ByteArrayOutputStream());
    return new Progress(new Fleet(out), 1, 0, Duration.ofSeconds(60), out, null);
  }

  @Test
  void everyPartyWaitsForTheLast() throws Exception {
    Barrier first = new Barrier(dir, 3, 0);
    CompletableFuture<Boolean> a = CompletableFuture.supplyAsync(() -> await(first, "storm"));
    CompletableFuture<Boolean> b = CompletableFuture.supplyAsync(() -> await(new Barrier(dir, 3, 1), "storm"));
    Thread.sleep(300); // the two are waiting: neither may have returned
    assertFalse(a.isDone() || b.isDone());
    assertTrue(await(new Barrier(dir, 3, 2), "storm"));
    assertTrue(a.get(10, TimeUnit.SECONDS));
    assertTrue(b.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aMissingPartyCostsTheTimeoutOnly() throws Exception {
    assertFalse(new Barrier(dir, 2, 0).await("hold", Duration.ofMillis(200), quiet()));
    assertTrue(Barrier.NONE.await("hold", Duration.ofMillis(1), quiet()));
  }

  private static boolean await(Barrier barrier, String point) {
    try {
      return barrier.await(point, Duration.ofSeconds(20), quiet());
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
