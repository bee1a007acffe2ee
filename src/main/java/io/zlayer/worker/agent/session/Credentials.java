package io.zlayer.worker.agent.session;

/** What a node holds once it joined: its id, its cluster and the cluster CA it trusts. Never logged whole. */
public interface Credentials {
  long nodeId();

  String clusterId();

  String caPem();
}
