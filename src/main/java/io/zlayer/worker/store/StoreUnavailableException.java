package io.zlayer.worker.store;

/**
 * The store could not be reached within its deadline (etcd down, partitioned or too slow). The
 * request may or may not have been applied when it was a write whose request was sent: a caller
 * that retries must use a compare-and-set txn, not a blind put. Maps to gRPC {@code UNAVAILABLE}.
 */
public final class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
