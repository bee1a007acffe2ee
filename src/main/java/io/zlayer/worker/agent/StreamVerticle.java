package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.zlayer.worker.bus.Addresses;

/**
 * A verticle that owns one gRPC stream of the session: opens it when the session comes up,
 * cancels it when the session goes down, and reports its failure (which ends the session).
 */
abstract class StreamVerticle extends VerticleBase {
  protected final AgentContext ctx;
  private final String name;
  private long epoch = -1;

  StreamVerticle(AgentContext ctx, String name) {
    this.ctx = ctx;
    this.name = name;
  }

  @Override
  public Future<?> start() {
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION, msg -> {
      JsonObject body = msg.body();
      if ("up".equals(body.getString("state"))) {
        epoch = body.getLong("epoch");
        ControllerChannel channel = ctx.channel();
        if (channel != null) {
          open(channel, body.getLong("node_id"), epoch);
        }
      } else {
        epoch = -1;
        close();
      }
    });
    return Future.succeededFuture();
  }

  /** Opens the stream on {@code channel}; call {@link #failed} when it fails or ends. */
  protected abstract void open(ControllerChannel channel, long nodeId, long epoch);

  /** Cancels the stream, if open. */
  protected abstract void close();

  protected boolean current(long streamEpoch) {
    return streamEpoch == epoch;
  }

  /** Reports the stream's failure once per session; the session decides what happens next. */
  protected void failed(long streamEpoch, String cause) {
    if (streamEpoch != epoch) {
      return;
    }
    epoch = -1;
    close();
    vertx.eventBus().send(Addresses.WORKER_SESSION_FAILED, new JsonObject().put("stream", name)
        .put("cause", cause).put("epoch", streamEpoch));
  }

  /** Wires the end and errors of a server stream to {@link #failed}. */
  protected void watchEnd(GrpcClientResponse<?, ?> response, long streamEpoch) {
    response.exceptionHandler(e -> failed(streamEpoch, SessionVerticle.describe(e)));
    response.endHandler(v -> failed(streamEpoch, response.status() == GrpcStatus.OK
        ? "controller ended the stream"
        : response.status() + ": " + response.statusMessage()));
  }

  @Override
  public Future<?> stop() {
    close();
    return Future.succeededFuture();
  }
}
