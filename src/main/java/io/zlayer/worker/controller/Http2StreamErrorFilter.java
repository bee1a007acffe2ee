package io.zlayer.worker.controller;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.vertx.core.http.HttpConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps an HTTP/2 connection open when a write is cancelled because the peer reset its stream
 * (issue 14, item 13: grpc-js "Connection dropped" after cancelling a call).
 *
 * <p>Vert.x 5.0.7 writes a response's trailers with a void promise
 * ({@code Http2ServerResponse.write}: {@code stream.writeHeaders(trailers, false, true, true, null)};
 * {@code VertxHttp2ConnectionHandler.writeHeaders}: {@code chctx.voidPromise()}). When the trailers
 * are still queued in Netty's remote flow controller as the client's RST_STREAM is read (the empty
 * DATA frame ahead of them waits for the flush at the end of the read; under CPU load the client's
 * END_STREAM and RST_STREAM arrive in the same read), Netty cancels them
 * ({@code DefaultHttp2RemoteFlowController.FlowState.cancel}: stream error STREAM_CLOSED, "Stream
 * closed before write could take place"), the void promise fires that into the pipeline, and
 * {@code VertxHttp2ConnectionHandler.exceptionCaught} closes the whole connection for it
 * ({@code ctx.close()} after any exception, stream-level or not). Still so in Vert.x 5.0.12.
 *
 * <p>This handler, placed just before Vert.x's HTTP/2 handler, drops exactly that exception: a
 * stream error with code STREAM_CLOSED, for a stream that is already closed. Everything else passes.
 */
final class Http2StreamErrorFilter extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(Http2StreamErrorFilter.class);
  static final String NAME = "zlayer-h2-stream-error-filter";
  private static final Http2StreamErrorFilter INSTANCE = new Http2StreamErrorFilter();
  private static volatile boolean warned;

  @Override
  public boolean isSharable() {
    return true;
  }

  /** For {@code HttpServer.connectionHandler}: installs the filter on an HTTP/2 connection. */
  static void install(HttpConnection connection) {
    if (!(connection instanceof io.vertx.core.net.impl.ConnectionBase base)) {
      if (!warned) {
        warned = true;
        LOG.warn("HTTP/2 stream-error filter not installed: unexpected connection type {}", connection.getClass());
      }
      return;
    }
    ChannelHandlerContext vertxHandler = base.channelHandlerContext();
    if (!(vertxHandler.handler() instanceof io.netty.handler.codec.http2.Http2ConnectionHandler)) {
      return; // HTTP/1.x: nothing to do
    }
    if (vertxHandler.pipeline().get(NAME) == null) {
      vertxHandler.pipeline().addBefore(vertxHandler.name(), NAME, INSTANCE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Http2Exception http2 = Http2CodecUtil.getEmbeddedHttp2Exception(cause);
    if (http2 instanceof Http2Exception.StreamException stream && stream.error() == Http2Error.STREAM_CLOSED) {
      LOG.debug("write to HTTP/2 stream {} cancelled: the peer reset it ({})", stream.streamId(), stream.getMessage());
      return;
    }
    ctx.fireExceptionCaught(cause);
  }
}
