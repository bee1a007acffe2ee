package io.zlayer.worker.store;

/**
 * One key as etcd describes it. {@code createRevision} is the revision that created the key (reset by
 * delete + re-create), {@code modRevision} the revision of its last change, {@code version} the number
 * of puts since it was created.
 */
public record KeyValue(String key, String value, long createRevision, long modRevision, long version) {}
