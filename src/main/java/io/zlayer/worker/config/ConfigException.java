package io.zlayer.worker.config;

/**
 * A configuration error. The message is one line that starts with the offending key (or
 * environment variable, or file path) and says what is wrong, e.g.
 * {@code heartbeat_min_ttl: '10x' is not a duration (use seconds like 10 or a value like 10s, 5m, 1h)}.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
