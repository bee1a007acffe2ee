package io.zlayer.worker.agent.session;

/**
 * A controller's refusal of a node it should know (certificate revoked, node deregistered or
 * collected). It cannot heal by retrying: the session ends and the agent exits with
 * {@link Session#EXIT_REFUSED}.
 */
public final class Refusal extends RuntimeException {
  public Refusal(String message) {
    super(message, null, false, false);
  }
}
