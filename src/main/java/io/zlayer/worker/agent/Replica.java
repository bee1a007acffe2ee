package io.zlayer.worker.agent;

import io.vertx.core.json.JsonObject;
import java.util.Comparator;

/**
 * One replica the executor knows about: its desired spec and, when there is one, its process.
 * Mutable, and only ever touched on the executor verticle's context.
 */
final class Replica {

  /** (service, role, index): the identity of a replica. */
  record Key(String service, String role, int index) implements Comparable<Key> {
    private static final Comparator<Key> ORDER = Comparator.comparing(Key::service)
        .thenComparing(Key::role).thenComparingInt(Key::index);

    @Override
    public int compareTo(Key o) {
      return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
      return "service=" + service + " role=" + role + " replica=" + index;
    }
  }

  /** As reported in the snapshot. */
  enum State {
    /** Being forked (no pid yet). */
    STARTING,
    /** The process is alive. */
    RUNNING,
    /** Exited 0 on its own; a restart is scheduled. */
    EXITED,
    /** Exited non-zero (or could not be started); a restart is scheduled. */
    FAILED,
    /** Stopped on purpose (drain, spec change, removal, worker exit). */
    STOPPED;

    String json() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  final Key key;
  /** What it should run. */
  ExecutorState.Spec spec;
  /** What the current (or last) process was started with. */
  ExecutorState.Spec runningSpec;
  /** False once the service was deleted or the index unassigned: dropped when its process is gone. */
  boolean wanted = true;

  State state = State.STOPPED;
  /** A fork is in flight on a worker thread. */
  boolean starting;
  /** TERM was sent; waiting for the exit (KILL on {@link #killTimer}). */
  boolean stopping;
  /** The running process: a child of this run, or one adopted from a previous run. */
  ProcessHandle process;
  /** The same process as a child of this JVM (its exit code is known); null when adopted. */
  Process child;
  long pid;
  long startMillis;
  long startTicks;
  long startedNanos;
  int restarts;
  long backoffMs;
  long restartTimer = -1;
  long killTimer = -1;
  long killAtNanos;

  Replica(Key key, ExecutorState.Spec spec, long backoffMs) {
    this.key = key;
    this.spec = spec;
    this.backoffMs = backoffMs;
  }

  /** No process and none being started. */
  boolean idle() {
    return process == null && !starting;
  }

  JsonObject toJson() {
    return new JsonObject().put("service", key.service()).put("role", key.role()).put("replica", key.index())
        .put("state", state.json()).put("pid", process == null ? 0L : pid).put("restarts", restarts);
  }
}
