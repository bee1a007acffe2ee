package io.zlayer.worker.agent;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the executor takes over from the worker's previous run: the stored state and the recorded
 * processes that still run, each found by pid and {@code /proc} start time (a recycled pid is
 * never taken). Blocking; runs on a worker thread before the executor starts.
 */
final class PreviousRun {
  private static final Logger LOG = LoggerFactory.getLogger(PreviousRun.class);

  /** A process of a previous run that still runs. */
  record Adopted(ExecutorState.RecordedProcess recorded, ProcessHandle handle) {
  }

  /** The stored state and the processes to adopt. */
  record Recovered(ExecutorState state, List<Adopted> adopted) {
  }

  private PreviousRun() {
  }

  /**
   * Reads {@code stateFile} (an unreadable file counts as no assignments) and finds the recorded
   * processes still alive. Records without a {@code /proc} start time (an older worker wrote them)
   * cannot be adopted safely: those processes are stopped, TERM then KILL after {@code grace}.
   */
  static Recovered recover(Path stateFile, Duration grace) {
    ExecutorState loaded;
    try {
      loaded = ExecutorState.load(stateFile);
    } catch (Exception e) {
      LOG.error("executor: cannot read {} ({}); starting with no assignments", stateFile, e.toString());
      loaded = ExecutorState.empty();
    }
    List<Adopted> adopted = new ArrayList<>();
    List<ExecutorState.RecordedProcess> unchecked = new ArrayList<>();
    for (ExecutorState.RecordedProcess rp : loaded.processes()) {
      if (rp.startTicks() <= 0) {
        unchecked.add(rp);
      } else {
        ProcessControl.adopt(rp.pid(), rp.startTicks()).ifPresent(h -> adopted.add(new Adopted(rp, h)));
      }
    }
    int killed = ProcessControl.killOrphans(unchecked, grace);
    if (killed > 0) {
      LOG.warn("executor: stopped {} orphan process(es) of a previous worker run", killed);
    }
    return new Recovered(loaded, adopted);
  }
}
