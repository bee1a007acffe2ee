package io.zlayer.worker.agent.session;

/**
 * The controller said it is stopping gracefully ({@link io.zlayer.worker.bus.Leaving}): not a
 * failure of the node nor of the network. The session moves to the next controller at once,
 * without backoff, and while the controllers restart it retries in short steps.
 */
public final class ControllerLeaving extends RuntimeException {
  public ControllerLeaving(String message) {
    super(message, null, false, false);
  }
}
