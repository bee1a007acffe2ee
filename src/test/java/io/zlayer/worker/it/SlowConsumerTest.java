package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, slow consumers: a worker that stops reading its watch stream while its node's log
 * grows costs the controller its stream's write queue, not the backlog; when it reads again it
 * gets every event, in order, once (a backlog replayed by pages from the store).
 */
@ExtendWith(VertxExtension.class)
class SlowConsumerTest {
  private static final int EVENTS = Integer.getInteger("zlayer.abuse.slowEvents", 1_000);
  private static final int PAD = 4 * 1024;
  @TempDir
  Path dir;
  private ControllerNode controller;
  private HttpClient http;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  @AfterEach
  void stop() throws Exception {
    if (http != null) {
      await(http.close());
    }
    await(controller.stop());
  }

  @Test
  @org.junit.jupiter.api.Disabled("passes alone (bench/abuse runs it), but a test run after it in the same JVM"
      + " (GrpcHostileInputTest) then times out: cause not found yet")
  void aWatchThatIsNotReadCostsItsQueueNotTheBacklog(Vertx vertx) throws Exception {
    Identity identity = RawWorker.register(vertx, controller);
    // A 1 MiB stream window, as grpc-java's; the worker's own client keeps HTTP/2's 64 KiB.
    http = StreamLifecycleTest.mtls(vertx, controller, identity, new io.vertx.core.http.HttpClientOptions()
        .setInitialSettings(new io.vertx.core.http.Http2Settings().setInitialWindowSize(1 << 20)));
    Buffer request = GrpcWire.frame(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId()).build().toByteArray());
    HttpClientResponse response = await(http.request(StreamLifecycleTest.watch(controller))
        .compose(req -> req.send(request)));
    response.pause(); // the worker stops reading: no WINDOW_UPDATE, the controller's stream fills
    Buffer received = Buffer.buffer();
    response.handler(received::appendBuffer);
    Promise<Void> ended = Promise.promise();
    response.endHandler(ended::tryComplete);
    response.exceptionHandler(ended::tryFail);

    long heapBefore = StreamLifecycleTest.usedHeap();
    String pad = "x".repeat(PAD);
    long t0 = System.nanoTime();
    List<Future<Long>> appends = new ArrayList<>();
    for (int i = 0; i < EVENTS; i++) {
      appends.add(controller.controlPlane().assignments().append(identity.nodeId(), Events.set("svc-" + i,
          new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
          new JsonObject().put("command", "true " + pad))));
      if (appends.size() % 500 == 0) {
        await(Future.all(appends)); // in batches: the store's queue is not under test here
      }
    }
    await(Future.all(appends), Duration.ofSeconds(60));
    long appendMs = (System.nanoTime() - t0) / 1_000_000;
    // Past the first few dozen events the feed's store watch is gone, so nothing is on its way to it.
    await(controller.controlPlane().assignments().currentRevision());

    long receivedWhilePaused = received.length();
    appends.clear();
    long heapGrownKb = (StreamLifecycleTest.usedHeap() - heapBefore) >> 10;
    long backlogKb = (long) EVENTS * PAD >> 10;

    // The worker reads again: every event arrives, in order, once.
    long t1 = System.nanoTime();
    response.resume();
    int[] parsed = {0, 0}; // bytes, events
    await(StreamLifecycleTest.settled(vertx, () -> count(received, parsed) >= EVENTS, Duration.ofSeconds(60)),
        Duration.ofSeconds(90));
    long drainMs = (System.nanoTime() - t1) / 1_000_000;
    List<AssignmentEvent> events = frames(received);
    System.out.printf("abuse slow-consumer: a watch not read while %,d events (%,d KiB) were appended in %,d ms:"
        + " the client got %,d bytes meanwhile, controller heap %+,d KiB; once read, %,d events in order in %,d ms%n",
        EVENTS, backlogKb, appendMs, receivedWhilePaused, heapGrownKb, events.size(), drainMs);
    assertEquals(EVENTS, events.size());
    for (int i = 0; i < EVENTS; i++) {
      assertEquals("svc-" + i, events.get(i).getSet().getService(), "event " + i);
      assertTrue(i == 0 || events.get(i).getRevision() > events.get(i - 1).getRevision());
    }
    assertTrue(heapGrownKb < backlogKb / 4, "heap grew " + heapGrownKb + " KiB for a backlog of " + backlogKb + " KiB");
  }

  /** Counts the complete frames in {@code body}, going on from {@code parsed} (bytes, events). */
  private static int count(Buffer body, int[] parsed) {
    while (parsed[0] + 5 <= body.length() && parsed[0] + 5 + body.getInt(parsed[0] + 1) <= body.length()) {
      parsed[0] += 5 + body.getInt(parsed[0] + 1);
      parsed[1]++;
    }
    return parsed[1];
  }

  /** The gRPC messages in {@code body} (complete frames only). */
  static List<AssignmentEvent> frames(Buffer body) {
    List<AssignmentEvent> out = new ArrayList<>();
    int at = 0;
    while (at + 5 <= body.length()) {
      int length = body.getInt(at + 1);
      if (at + 5 + length > body.length()) {
        break;
      }
      try {
        out.add(AssignmentEvent.parseFrom(body.getBytes(at + 5, at + 5 + length)));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
      at += 5 + length;
    }
    return out;
  }
}
