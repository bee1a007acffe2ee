package io.zlayer.worker.store;

/**
 * A change seen by a watch. For DELETE, {@code kv.value()} is null and {@code kv.modRevision()} is the
 * deleting revision (createRevision and version are 0, as in etcd).
 */
public record WatchEvent(Type type, KeyValue kv) {
  public enum Type { PUT, DELETE }
}
