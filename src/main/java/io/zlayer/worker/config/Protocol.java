package io.zlayer.worker.config;

/** How a worker talks to the controllers; in YAML {@code grpc} or {@code http}. Both use TLS. */
public enum Protocol {
  GRPC,
  HTTP
}
