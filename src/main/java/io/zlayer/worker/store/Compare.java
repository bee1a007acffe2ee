package io.zlayer.worker.store;

/** A compare in a transaction: the key's modRevision must equal modRevision; 0 means "key must not exist". */
public record Compare(String key, long modRevision) {

  /** Holds only if the key does not exist (etcd: mod_revision == 0). */
  public static Compare absent(String key) {
    return new Compare(key, 0);
  }

  /** Holds only if the key was not written since {@code kv} was read. */
  public static Compare unchanged(KeyValue kv) {
    return new Compare(kv.key(), kv.modRevision());
  }
}
