package io.zlayer.worker.config;

/** The {@code role} of a node in worker-tier mode; in YAML {@code server} or {@code worker}. */
public enum Role {
  SERVER,
  WORKER
}
