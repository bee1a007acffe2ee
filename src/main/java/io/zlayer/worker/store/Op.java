package io.zlayer.worker.store;

/** A write inside a transaction. */
public sealed interface Op permits Op.Put, Op.Delete {

  /** The key this op writes. */
  String key();

  record Put(String key, String value) implements Op {}

  record Delete(String key) implements Op {}

  static Op put(String key, String value) {
    return new Put(key, value);
  }

  static Op delete(String key) {
    return new Delete(key);
  }
}
