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

  public static <Req, Resp> Future<Resp> unary(GrpcClient client, SocketAddress address,
                                               ServiceMethod<Resp, Req> method, Req request) {
    return client.request(address, method)
        .compose(call -> call.send(request))
        .compose(response -> response.last().recover(e -> {
          GrpcStatus status = response.status();
          if (status != null && status != GrpcStatus.OK) {
            return Future.failedFuture(new RpcException(status, response.statusMessage()));
          }
          return Future.failedFuture(e);
        }));
  }
}
