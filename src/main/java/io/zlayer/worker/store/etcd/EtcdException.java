package io.zlayer.worker.store.etcd;

import io.vertx.grpc.common.GrpcStatus;

/** etcd answered, with an error status other than unavailable (a bad request, a lost lease...). */
public final class EtcdException extends RuntimeException {
  private final GrpcStatus status;

  EtcdException(GrpcStatus status, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  public GrpcStatus status() {
    return status;
  }
}
