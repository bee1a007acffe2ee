package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;

/**
 * Unary gRPC calls that fail with the controller's status and message (the generated stub
 * keeps only the status, and the message is what tells an operator what is wrong).
 */
public final class Rpc {
  private Rpc() {
  }

  /** A call answered with a non-OK status. */
  public static final class RpcException extends RuntimeException {
    private final GrpcStatus status;

    public RpcException(GrpcStatus status, String message) {
      super(status + (message == null || message.isEmpty() ? "" : ": " + message), null, false, false);
      this.status = status;
    }

    public GrpcStatus status() {
      return status;
    }
  }

  /**
   * A status's message, never null: a status with none (a reset stream, a proxy, a lost
   * connection) says so instead of printing "null".
   */
  public static String withReason(GrpcStatus status, String message) {
    return message == null || message.isEmpty()
        ? status.name() + " with no message from the controller (stream reset or connection lost)"
        : message;
  }

  public static <Req, Resp> Future<Resp> unary(GrpcClient client, SocketAddress address,
                                               ServiceMethod<Resp, Req> method, Req request) {
    return client.request(address, method)
        .compose(call -> call.send(request))
        .compose(response -> response.last().recover(e -> {
          GrpcStatus status = response.status();
          if (status != null && status != GrpcStatus.OK) {
            return Future.failedFuture(new RpcException(status, withReason(status, response.statusMessage())));
          }
          return Future.failedFuture(e);
        }));
  }
}
