package io.zlayer.worker.controller.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcService;
import io.zlayer.worker.proto.ServiceSpec;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The trimmed stream is still a correct stream: a server stream far larger than the HTTP/2
 * flow-control window, written while the client is paused, backs up into the lazy queue and
 * arrives complete and in order once the client reads.
 */
@ExtendWith(VertxExtension.class)
class StreamFootprintTest {
  private static final int MESSAGES = 4_000;
  private static final ServiceSpec SPEC = ServiceSpec.newBuilder().setCommand("x".repeat(1024)).build();

  @Test
  void backedUpStreamDrainsInOrderThroughTheLazyQueue(Vertx vertx, VertxTestContext test) throws Throwable {
    // The trim reaches into Vert.x internals: fail here, loudly, when an upgrade moves them (the
    // controller would only log a warning and lose ~40 % of its per-worker memory figure).
    assertTrue(StreamFootprint.available(), "every trim must work on the Vert.x and Netty we ship; broken: "
        + StreamFootprint.unavailable());
    AtomicReference<Queue<?>> queue = new AtomicReference<>();
    AtomicInteger maxBacklog = new AtomicInteger();
    AtomicInteger headersLeft = new AtomicInteger(-1);
    java.util.concurrent.atomic.AtomicBoolean applied = new java.util.concurrent.atomic.AtomicBoolean();
    io.vertx.core.Promise<Void> written = io.vertx.core.Promise.promise();
    GrpcServer grpc = GrpcServer.server(vertx);
    String path = ClusterControlPlaneGrpcService.WatchAssignments.serviceName()
        .pathOf(ClusterControlPlaneGrpcService.WatchAssignments.methodName());
    AtomicReference<io.vertx.core.http.HttpServerRequest> httpRequest = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean hpackReplaced = new java.util.concurrent.atomic.AtomicBoolean();
    AtomicReference<Object> encoder = new AtomicReference<>();
    AtomicInteger queuesReplaced = new AtomicInteger(-1);
    grpc.callHandler(ClusterControlPlaneGrpcService.WatchAssignments, call -> call.last().onSuccess(req -> {
      StreamFootprint.messageRead(call);
      call.response().writeHead();
      for (int i = 1; i <= MESSAGES; i++) {
        call.response().write(AssignmentEvent.newBuilder().setRevision(i)
            .setSet(AssignmentEvent.Set.newBuilder().setService("svc").setSpec(SPEC)).build());
        maxBacklog.accumulateAndGet(queue.get().size(), Math::max);
      }
      call.response().end();
      written.complete();
    }));
    HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0))
        .connectionHandler(connection -> {
          try {
            Object[] before = StreamFootprint.queuesOf(connection);
            hpackReplaced.set(StreamFootprint.connectionOpened(connection));
            Object[] after = StreamFootprint.queuesOf(connection);
            int replaced = 0;
            for (int i = 0; i < 3; i++) {
              replaced += before[i] != after[i] && after[i] != null ? 1 : 0;
            }
            queuesReplaced.set(replaced);
          } catch (IllegalAccessException e) {
            throw new AssertionError(e);
          }
          try {
            encoder.set(StreamFootprint.headersEncoderOf(connection));
          } catch (IllegalAccessException e) {
            throw new AssertionError(e);
          }
        })
        .requestHandler(req -> {
          httpRequest.set(req);
          applied.set(StreamFootprint.apply(req));
          StreamFootprint.sharePath(req, path);
          try {
            queue.set(StreamFootprint.outboundQueueOf(req));
          } catch (IllegalAccessException e) {
            throw new AssertionError(e);
          }
          grpc.handle(req);
          StreamFootprint.callCreated(req);
          headersLeft.set(req.headers().size());
        });
    server.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);

    GrpcClient client = GrpcClient.client(vertx, new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
    AtomicInteger next = new AtomicInteger(1);
    client.request(SocketAddress.inetSocketAddress(server.actualPort(), "127.0.0.1"),
            ClusterControlPlaneGrpcClient.WatchAssignments)
        .compose(request -> request.send(WatchAssignmentsRequest.newBuilder().setNodeId(1).build()))
        .onComplete(test.succeeding(response -> {
          response.pause();
          response.handler(event -> test.verify(() -> assertEquals(next.getAndIncrement(), event.getRevision())));
          response.endHandler(v -> test.verify(() -> {
            assertTrue(applied.get(), "the trim replaced the stream's queue (a Vert.x upgrade broke it if not)");
            assertEquals(MESSAGES + 1, next.get(), "every message, in order");
            assertInstanceOf(ConcurrentLinkedQueue.class, queue.get());
            assertTrue(maxBacklog.get() > 100, "the window filled and messages waited in the lazy queue: "
                + maxBacklog.get());
            assertEquals(0, headersLeft.get(), "request headers dropped once the call was created");
            assertTrue(hpackReplaced.get(), "the connection got the small HPACK encoder");
            assertEquals(3, queuesReplaced.get(), "the connection's idle default-size queues were swapped for minimal ones");
            assertInstanceOf(StreamFootprint.SmallHeadersEncoder.class, encoder.get());
            assertEquals(0, ((StreamFootprint.SmallHeadersEncoder) encoder.get()).maxHeaderTableSize(),
                "no dynamic table, whatever the client allows");
            assertTrue(httpRequest.get().response().headWritten());
            assertTrue(httpRequest.get().response().headers().isEmpty(), "the written head's header set dropped");
            assertSame(path, httpRequest.get().path(), "the stream's path is the shared string");
            test.completeNow();
          }));
          // read only once the server has written everything (and so queued most of it)
          written.future().onSuccess(v -> response.resume());
        }));
    assertTrue(test.awaitCompletion(30, TimeUnit.SECONDS));
    if (test.failed()) {
      throw test.causeOfFailure();
    }
  }
}
