package io.zlayer.worker.controller.grpc;

import io.vertx.core.AsyncResult;
import io.vertx.grpc.server.GrpcServerResponse;
import io.zlayer.worker.controller.core.ControlPlaneException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one mapping from a failure to a gRPC status with a message (never a stack trace). */
final class GrpcReplies {
  private static final Logger LOG = LoggerFactory.getLogger(GrpcReplies.class);

  private GrpcReplies() {
  }

  static <Resp> void reply(GrpcServerResponse<?, Resp> response, AsyncResult<Resp> result) {
    if (result.succeeded()) {
      try {
        response.end(result.result());
      } catch (IllegalStateException alreadyClosed) {
        // The peer reset the call while it was served: nobody is left to answer.
      }
    } else {
      fail(response, result.cause());
    }
  }

  static void fail(GrpcServerResponse<?, ?> response, Throwable failure) {
    ControlPlaneException refusal = ControlPlaneException.of(failure);
    if (refusal.kind() == ControlPlaneException.Kind.INTERNAL) {
      LOG.error("internal error serving a worker call", failure);
    }
    try {
      response.status(refusal.kind().grpc).statusMessage(refusal.getMessage()).end();
    } catch (IllegalStateException alreadyEnded) {
      // The stream was already closed by the peer or by us; nothing left to tell.
    }
  }
}
