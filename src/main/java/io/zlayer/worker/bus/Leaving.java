package io.zlayer.worker.bus;

/**
 * The wire words of a controller that stops gracefully (SIGTERM): before it goes it ends each
 * worker's watch streams with gRPC status {@code UNAVAILABLE} and a message starting with
 * {@link #REASON}, then sends HTTP/2 GOAWAY; a held legacy poll is answered 503 with
 * {@code {"error": "<REASON>...", "reason": "<LEGACY_REASON>"}}. A worker that hears it moves to
 * the next controller of its {@code servers} at once, without backoff (a crash still backs off).
 */
public final class Leaving {
  /** Start of the gRPC status message and of the legacy JSON error. */
  public static final String REASON = "controller shutting down";
  /** The legacy JSON answer's {@code reason} field. */
  public static final String LEGACY_REASON = "controller_shutting_down";

  private Leaving() {
  }

  /** Whether a status message (or legacy error) is a controller's goodbye. */
  public static boolean said(String message) {
    return message != null && message.startsWith(REASON);
  }
}
