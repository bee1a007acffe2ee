package io.zlayer.worker.config;

/** How a worker runs workloads; in YAML {@code process} or {@code external}. */
public enum ExecutorKind {
  PROCESS,
  EXTERNAL
}
