package io.zlayer.worker.agent.session;

/**
 * What one registration attempt presents: the bootstrap token (encoded), the cluster it is for,
 * and the CA pinned for it (PEM). {@code release} is called once the attempt ended, either way.
 */
public record JoinTicket(String token, String clusterId, String caPem, Runnable release) {
  @Override
  public String toString() {
    return "JoinTicket[cluster_id=" + clusterId + "]";
  }
}
