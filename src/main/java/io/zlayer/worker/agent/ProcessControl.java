package io.zlayer.worker.agent;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Blocking process operations of the executor; every method here runs on a worker thread. */
final class ProcessControl {
  private static final File DEV_NULL = new File("/dev/null");

  private ProcessControl() {
  }

  /** A forked replica process and its OS start instant (epoch millis, 0 if unknown). */
  record Started(Process process, long startMillis) {
  }

  /** Forks {@code /bin/sh -c command}; stdout and stderr are appended to {@code logFile}, stdin is empty. */
  static Started start(String command, Map<String, String> extraEnv, Path logFile) throws IOException {
    Files.createDirectories(logFile.getParent());
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    if (DEV_NULL.exists()) {
      pb.redirectInput(ProcessBuilder.Redirect.from(DEV_NULL));
    }
    pb.environment().putAll(extraEnv);
    Process process = pb.start();
    if (!DEV_NULL.exists()) {
      process.getOutputStream().close();
    }
    return new Started(process, startMillis(process.toHandle()));
  }

  static long startMillis(ProcessHandle handle) {
    return handle.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
  }

  /** SIGTERM to the process and its descendants ({@code /bin/sh} may not exec its child). */
  static void terminate(ProcessHandle root) {
    List<ProcessHandle> children = root.descendants().toList();
    root.destroy();
    children.forEach(ProcessHandle::destroy);
  }

  /**
   * SIGKILL to the process and its descendants. The root goes first so it cannot fork again; then
   * the descendants seen, then whatever they forked in the meantime.
   */
  static void kill(ProcessHandle root) {
    Set<ProcessHandle> seen = new LinkedHashSet<>(root.descendants().toList());
    root.destroyForcibly();
    for (int round = 0; round < 5; round++) {
      List<ProcessHandle> more = new ArrayList<>();
      for (ProcessHandle h : seen) {
        if (h.isAlive()) {
          h.descendants().forEach(more::add);
        }
      }
      seen.forEach(ProcessHandle::destroyForcibly);
      if (!seen.addAll(more)) {
        return;
      }
    }
  }

  /**
   * Stops the processes of a previous worker run that are still alive with the same start instant:
   * TERM, then KILL after {@code grace}. Returns how many were found. Others (gone, or the pid now
   * belongs to another process) are left alone.
   */
  static int killOrphans(List<ExecutorState.RecordedProcess> recorded, Duration grace) {
    List<ProcessHandle> orphans = new ArrayList<>();
    for (ExecutorState.RecordedProcess rp : recorded) {
      if (rp.pid() <= 0 || rp.pid() == ProcessHandle.current().pid()) {
        continue;
      }
      Optional<ProcessHandle> h = ProcessHandle.of(rp.pid());
      if (h.isPresent() && h.get().isAlive() && rp.startMillis() != 0 && startMillis(h.get()) == rp.startMillis()) {
        orphans.add(h.get());
      }
    }
    orphans.forEach(ProcessControl::terminate);
    long deadline = System.nanoTime() + grace.toNanos();
    for (ProcessHandle h : orphans) {
      awaitExit(h, deadline);
    }
    for (ProcessHandle h : orphans) {
      if (h.isAlive()) {
        kill(h);
        awaitExit(h, System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
      }
    }
    return orphans.size();
  }

  private static void awaitExit(ProcessHandle h, long deadlineNanos) {
    try {
      h.onExit().get(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      // still alive: the caller escalates
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      // onExit never fails
    }
  }
}
