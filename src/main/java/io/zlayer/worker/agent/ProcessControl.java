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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blocking process operations of the executor; every method here runs on a worker thread.
 *
 * <p>Replicas run in a session of their own ({@code setsid}) so that a Ctrl-C in the agent's
 * terminal (SIGINT to the foreground process group) or the agent's death does not reach them; a
 * restarted agent finds them again by pid and {@code /proc} start time ({@link #adopt}).
 */
final class ProcessControl {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessControl.class);
  private static final File DEV_NULL = new File("/dev/null");
  /** util-linux's setsid: execs the command in a new session (it forks only when already a group leader). */
  private static final Optional<String> SETSID = Stream.of("/usr/bin/setsid", "/bin/setsid")
      .filter(f -> Files.isExecutable(Path.of(f))).findFirst();
  private static final AtomicBoolean WARNED_NO_SETSID = new AtomicBoolean();
  /** In {@code /proc/<pid>/stat}: field 22, starttime (clock ticks since boot), counted after the ")" ending field 2. */
  private static final int STARTTIME_AFTER_COMM = 22 - 3;

  private ProcessControl() {
  }

  /** A forked replica process, its OS start instant (epoch millis, 0 if unknown) and {@code /proc} start time (0 if unknown). */
  record Started(Process process, long startMillis, long startTicks) {
  }

  /**
   * Forks {@code /bin/sh -c command} in a new session (when setsid exists);
   * stdout and stderr are appended to {@code logFile}, stdin is empty. Output goes to the file,
   * never through the agent, so a replica keeps logging when the agent is gone.
   */
  static Started start(String command, Map<String, String> extraEnv, Path logFile) throws IOException {
    Files.createDirectories(logFile.getParent());
    List<String> argv = new ArrayList<>();
    if (SETSID.isPresent()) {
      argv.add(SETSID.get());
    } else if (WARNED_NO_SETSID.compareAndSet(false, true)) {
      LOG.warn("executor: no setsid (util-linux) found; replicas share the agent's process group, so a Ctrl-C"
          + " in its terminal reaches them too");
    }
    argv.addAll(List.of("/bin/sh", "-c", command));
    ProcessBuilder pb = new ProcessBuilder(argv)
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
    return new Started(process, startMillis(process.toHandle()), startTicks(process.pid()));
  }

  /**
   * The start time of {@code pid} in clock ticks since boot ({@code /proc/<pid>/stat} field 22),
   * or 0 when the process is gone or {@code /proc} cannot tell. With the pid, it names one process
   * for the life of the machine: a recycled pid has a later start time.
   */
  static long startTicks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int end = stat.lastIndexOf(')'); // field 2 (comm) may hold spaces and parentheses
      String[] fields = stat.substring(end + 2).trim().split(" ");
      return fields.length > STARTTIME_AFTER_COMM ? Long.parseLong(fields[STARTTIME_AFTER_COMM]) : 0L;
    } catch (IOException | RuntimeException e) {
      return 0L;
    }
  }

  /**
   * The live process a previous run recorded, if {@code pid} still names it: alive, not us, and
   * started at the recorded {@code /proc} start time (so a recycled pid is never taken).
   */
  static Optional<ProcessHandle> adopt(long pid, long recordedStartTicks) {
    if (pid <= 0 || recordedStartTicks <= 0 || pid == ProcessHandle.current().pid()) {
      return Optional.empty();
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (h.isEmpty() || startTicks(pid) != recordedStartTicks) {
      return Optional.empty();
    }
    return h;
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
   * Stops the processes recorded by a worker version that did not record the {@code /proc} start
   * time and are still alive with the same start instant: TERM, then KILL after {@code grace}.
   * Returns how many were found. Others (gone, or the pid now belongs to another process) are left alone.
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
