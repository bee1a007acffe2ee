package io.zlayer.worker.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * A rendezvous of the simulator processes of one run ({@code bench/run --sim-procs K}, when one
 * process may not hold enough descriptors for the whole fleet): at each point every process
 * creates {@code <dir>/<point>.<index>} and waits until all {@code parties} files are there, so
 * that the storm, the hold, the assignments, the ingest and the restart start together in every
 * process. A single process never waits. The wait is bounded: past its timeout the process says
 * so and goes on alone.
 */
final class Barrier {
  static final Barrier NONE = new Barrier(null, 1, 0);

  private static final long POLL_MS = 20;

  private final Path dir;
  private final int parties;
  private final int index;

  Barrier(Path dir, int parties, int index) {
    if (parties < 1 || index < 0 || index >= parties) {
      throw new IllegalArgumentException("barrier: process " + index + " of " + parties);
    }
    this.dir = dir;
    this.parties = parties;
    this.index = index;
  }

  int parties() {
    return parties;
  }

  int index() {
    return index;
  }

  /** Waits for every process at {@code point}; false when the timeout passed first. */
  boolean await(String point, Duration timeout, Progress progress) throws InterruptedException {
    if (parties == 1) {
      return true;
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(point + "." + index), Long.toString(System.currentTimeMillis()));
    } catch (IOException e) {
      throw new UncheckedIOException("barrier " + dir, e);
    }
    progress.out.printf("sim: process %d of %d at '%s'; waiting for the others%n", index, parties, point);
    String phase = progress.phase;
    progress.phase = "wait-" + point;
    boolean all = progress.waitFor(() -> arrived(point) >= parties, timeout);
    progress.phase = phase;
    if (!all) {
      progress.out.printf("sim: only %d of %d processes reached '%s' within %s; going on%n", arrived(point), parties,
          point, timeout);
    }
    return all;
  }

  private long arrived(String point) {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().startsWith(point + ".")).count();
    } catch (IOException e) {
      return 0;
    }
  }
}
