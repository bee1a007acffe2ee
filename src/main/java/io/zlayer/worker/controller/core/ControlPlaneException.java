package io.zlayer.worker.controller.core;

import io.vertx.grpc.common.GrpcStatus;

/**
 * A refusal the peer may see: a kind (mapped once to a gRPC status and an HTTP status) and a
 * message naming what is wrong. Never carries a secret.
 */
public final class ControlPlaneException extends RuntimeException {

  public enum Kind {
    UNAUTHENTICATED(GrpcStatus.UNAUTHENTICATED, 401),
    PERMISSION_DENIED(GrpcStatus.PERMISSION_DENIED, 403),
    INVALID_ARGUMENT(GrpcStatus.INVALID_ARGUMENT, 400),
    NOT_FOUND(GrpcStatus.NOT_FOUND, 404),
    FAILED_PRECONDITION(GrpcStatus.FAILED_PRECONDITION, 409),
    RESOURCE_EXHAUSTED(GrpcStatus.RESOURCE_EXHAUSTED, 429),
    UNAVAILABLE(GrpcStatus.UNAVAILABLE, 503),
    INTERNAL(GrpcStatus.INTERNAL, 500);

    public final GrpcStatus grpc;
    public final int http;

    Kind(GrpcStatus grpc, int http) {
      this.grpc = grpc;
      this.http = http;
    }
  }

  private final Kind kind;

  public ControlPlaneException(Kind kind, String message) {
    // Never a status without a message: a failure whose cause had none still says what failed.
    super(message == null || message.isBlank() ? kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
        + " (no detail; see the controller log)" : message, null, false, false);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public static ControlPlaneException unauthenticated(String message) {
    return new ControlPlaneException(Kind.UNAUTHENTICATED, message);
  }

  public static ControlPlaneException permissionDenied(String message) {
    return new ControlPlaneException(Kind.PERMISSION_DENIED, message);
  }

  public static ControlPlaneException invalidArgument(String message) {
    return new ControlPlaneException(Kind.INVALID_ARGUMENT, message);
  }

  public static ControlPlaneException notFound(String message) {
    return new ControlPlaneException(Kind.NOT_FOUND, message);
  }

  public static ControlPlaneException failedPrecondition(String message) {
    return new ControlPlaneException(Kind.FAILED_PRECONDITION, message);
  }

  /** Maps any failure to a refusal: known ones keep their kind, others become INTERNAL without detail. */
  public static ControlPlaneException of(Throwable failure) {
    if (failure instanceof ControlPlaneException e) {
      return e;
    }
    if (failure instanceof io.zlayer.worker.store.StoreUnavailableException) { // etcd down: fail fast, retry later
      return new ControlPlaneException(Kind.UNAVAILABLE, "the cluster state store is unreachable; retry shortly");
    }
    return new ControlPlaneException(Kind.INTERNAL, "internal error; see the controller log");
  }
}
