package io.zlayer.worker.controller.core;

import java.util.Locale;

/** Lifecycle of a worker node as the controller sees it. */
public enum NodeState {
  READY, DRAINING, UNREACHABLE, DEREGISTERED, QUARANTINED;

  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static NodeState ofWire(String value) {
    return valueOf(value.toUpperCase(Locale.ROOT));
  }

  /** Whether a node in this state has not left: it may come back (see {@code NodeService#live}). */
  public boolean live() {
    return this == READY || this == DRAINING || this == UNREACHABLE;
  }

  /** Whether a node in this state holds a lease, which expires into {@link #UNREACHABLE}. */
  public boolean leased() {
    return this == READY || this == DRAINING;
  }
}
