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
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, slow consumers: a worker that stops reading its watch stream while its node's log
 * grows costs the controller its stream's write queue, not the backlog; after the stall limit the
 * controller cuts the stream with RESOURCE_EXHAUSTED. The worker reads what was queued, then the
 * status, and resumes from its revision: that fell out of the history window, so it gets a resync,
 * then the window, and ends with every service, each event applied once and in order.
 */
@ExtendWith(VertxExtension.class)
class SlowConsumerTest {
  private static final int EVENTS = Integer.getInteger("zlayer.abuse.slowEvents", 1_000);
  private static final int PAD = 4 * 1024;
  /** Small, so that the worker falls out of it while it does not read. */
  private static final int WINDOW = 200;
  private static final long STALL_MS = 1_500;
  /** Each event sets one of these services (the node's desired state stays this size). */
  private static final int SERVICES = 50;
  /** Events appended before the heap is measured (past the window: the log has compacted once). */
  private static final int WARM_UP = 400;
  @TempDir
  Path dir;
  private ControllerNode controller;
  private HttpClient http;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    System.setProperty("zlayer.slowConsumerStallMs", Long.toString(STALL_MS));
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir,
        new JsonObject().put("history_window", WINDOW)));
  }

  @AfterEach
  void stop() throws Exception {
    System.clearProperty("zlayer.slowConsumerStallMs");
    if (http != null) {
      await(http.close());
    }
    await(controller.stop());
  }

  /** Opens a raw watch after {@code revision}; the response is paused until the caller resumes it. */
  private HttpClientResponse watch(long nodeId, long revision, Buffer received, Promise<Void> ended) throws Exception {
    Buffer request = GrpcWire.frame(WatchAssignmentsRequest.newBuilder().setNodeId(nodeId)
        .setLastSeenRevision(revision).build().toByteArray());
    HttpClientResponse response = await(http.request(StreamLifecycleTest.watch(controller))
        .compose(req -> req.send(request).map(resp -> {
          resp.pause();
          resp.handler(received::appendBuffer);
          resp.endHandler(ended::tryComplete);
          resp.exceptionHandler(ended::tryFail);
          return resp;
        })));
    return response;
  }

  @Test
  void aWatchThatIsNotReadIsCutAndTheWorkerResumesWithAResync(Vertx vertx) throws Exception {
    Identity identity = RawWorker.register(vertx, controller);
    // A 1 MiB stream window, as grpc-java's; the worker's own client keeps HTTP/2's 64 KiB.
    http = StreamLifecycleTest.mtls(vertx, controller, identity, new io.vertx.core.http.HttpClientOptions()
        .setInitialSettings(new io.vertx.core.http.Http2Settings().setInitialWindowSize(1 << 20)));
    Buffer received = Buffer.buffer();
    Promise<Void> ended = Promise.promise();
    // The worker stops reading: no WINDOW_UPDATE, the controller's stream fills.
    HttpClientResponse response = watch(identity.nodeId(), 0, received, ended);

    String pad = "x".repeat(PAD);
    long t0 = System.nanoTime();
    long heapBefore = 0;
    List<Future<Long>> appends = new ArrayList<>();
    for (int i = 0; i < EVENTS; i++) {
      appends.add(controller.controlPlane().assignments().append(identity.nodeId(), Events.set("svc-" + i % SERVICES,
          new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
          new JsonObject().put("command", "true " + i + " " + pad))));
      if (appends.size() % 100 == 0) {
        await(Future.all(appends)); // in batches: the store's queue is not under test here
        if (i == WARM_UP - 1) {
          // Measured from here: the stream is full by now, and the buffer pools hold their chunks.
          heapBefore = StreamLifecycleTest.usedHeap();
        }
      }
    }
    await(Future.all(appends), Duration.ofSeconds(60));
    long appendMs = (System.nanoTime() - t0) / 1_000_000;
    appends.clear();
    long backlogKb = (long) (EVENTS - WARM_UP) * PAD >> 10;

    // The controller cuts the stream once it stayed full for the stall limit: it holds no feed.
    long t1 = System.nanoTime();
    await(StreamLifecycleTest.settled(vertx, () -> controller.controlPlane().streams().trackedStreams() == 0,
        Duration.ofSeconds(30)), Duration.ofSeconds(40));
    long cutMs = (System.nanoTime() - t1) / 1_000_000;
    long heapGrownKb = (StreamLifecycleTest.usedHeap() - heapBefore) >> 10;

    // The worker reads again: what was queued, then the status.
    response.resume();
    await(ended.future(), Duration.ofSeconds(30));
    List<AssignmentEvent> before = frames(received);
    assertEquals("8", response.trailers().get("grpc-status"), "RESOURCE_EXHAUSTED; trailers " + response.trailers());
    String message = java.net.URLDecoder.decode(String.valueOf(response.trailers().get("grpc-message")),
        java.nio.charset.StandardCharsets.UTF_8); // percent-encoded on the wire
    assertTrue(message != null && message.contains("slow consumer"), message);
    long last = before.get(before.size() - 1).getRevision();

    // It resumes from its revision: a resync (that revision fell out of the window), then the window.
    Map<String, String> services = new TreeMap<>();
    before.forEach(e -> apply(services, e));
    Buffer again = Buffer.buffer();
    Promise<Void> secondEnded = Promise.promise();
    long t2 = System.nanoTime();
    HttpClientResponse second = watch(identity.nodeId(), last, again, secondEnded);
    second.resume();
    int[] parsed = {0, 0};
    long lastRevision = await(controller.controlPlane().assignments().history(identity.nodeId()))
        .stream().mapToLong(e -> e.revision()).max().orElseThrow();
    await(StreamLifecycleTest.settled(vertx, () -> {
      count(again, parsed);
      List<AssignmentEvent> got = parsed[1] == 0 ? List.of() : frames(again);
      return !got.isEmpty() && got.get(got.size() - 1).getRevision() >= lastRevision;
    }, Duration.ofSeconds(60)), Duration.ofSeconds(90));
    long resumeMs = (System.nanoTime() - t2) / 1_000_000;
    List<AssignmentEvent> after = frames(again);
    for (int i = 0; i < after.size(); i++) {
      assertTrue(after.get(i).getRevision() > (i == 0 ? last : after.get(i - 1).getRevision()), "in order, once");
      apply(services, after.get(i));
    }
    second.request().reset(); // the worker stops; its stream ends now, not with the connection
    System.out.printf("abuse slow-consumer: a watch not read while %,d events (%,d KiB) were appended in %,d ms:"
        + " controller heap %+,d KiB; cut (RESOURCE_EXHAUSTED) %,d ms after the appends (stall limit %,d ms);"
        + " the worker had %,d events, resumed from revision %,d: resync of %,d services + %,d events in %,d ms%n",
        EVENTS, backlogKb, appendMs, heapGrownKb, cutMs, STALL_MS, before.size(), last,
        after.get(0).getResync().getServicesCount(), after.size() - 1, resumeMs);
    assertTrue(after.get(0).hasResync(), "resumed from before the window: a resync first");
    Map<String, String> expected = new TreeMap<>();
    for (int i = EVENTS - SERVICES; i < EVENTS; i++) {
      expected.put("svc-" + i % SERVICES, "true " + i);
    }
    assertEquals(expected, services);
    // The feed stopped at the stream's queue: the worker had only what fitted in it, never the backlog.
    assertTrue(before.size() < 100, "the paused worker was sent " + before.size() + " events");
    // The heap figure is printed; its first run in a JVM also counts buffer pools growing to their
    // working set (3-7 MiB here, then negative on a rerun), so only the issue's own bound is asserted.
    assertTrue(heapGrownKb < 64 * 1024, "heap grew " + heapGrownKb + " KiB for a backlog of " + backlogKb + " KiB");
  }

  /** A worker's view of its services (a resync replaces them). */
  private static void apply(Map<String, String> services, AssignmentEvent e) {
    if (e.hasSet()) {
      services.put(e.getSet().getService(), version(e.getSet()));
    } else if (e.hasDelete()) {
      services.remove(e.getDelete().getService());
    } else if (e.hasResync()) {
      services.clear();
      e.getResync().getServicesList().forEach(s -> services.put(s.getService(), version(s)));
    }
  }

  /** "true N" of a set's command (its pad left out). */
  private static String version(AssignmentEvent.Set set) {
    String command = set.getSpec().getCommand();
    return command.substring(0, command.indexOf(' ', "true ".length()));
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
