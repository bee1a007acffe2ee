package io.zlayer.worker.controller.cluster;

/** A controller may not join this cluster as configured (node_id taken, CA not the cluster's): the message says what to do. */
public final class ClusterRefusal extends RuntimeException {
  public ClusterRefusal(String message) {
    super(message);
  }
}
