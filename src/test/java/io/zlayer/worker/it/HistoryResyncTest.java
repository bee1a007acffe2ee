package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, bounded history: 3,000 changes of a node's services (past the default window of
 * 1,000), then a worker that resumes from revision 0, over gRPC and over the legacy poll, gets a
 * resync and ends with exactly the current services; the store kept at most the window.
 */
@ExtendWith(VertxExtension.class)
class HistoryResyncTest {
  private static final int CHANGES = 3_000;
  @TempDir
  Path dir;
  private ControllerNode controller;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
  }

  @AfterEach
  void stop() throws Exception {
    await(controller.stop());
  }

  /** What the node should run (service -> command) and the revision of its last event. */
  private record Changed(Map<String, String> expected, long last) {
  }

  /** Makes {@code CHANGES} random sets and deletes of 30 services; waits until the log holds its window. */
  private Changed change(long nodeId) throws Exception {
    NodeEventLog log = controller.controlPlane().assignments();
    Random random = new Random(nodeId);
    TreeMap<Long, JsonObject> byRevision = new TreeMap<>();
    List<Future<Void>> inFlight = new ArrayList<>();
    for (int i = 0; i < CHANGES; i++) {
      String service = "svc-" + random.nextInt(30);
      JsonObject event = random.nextInt(3) == 0 ? Events.delete(service) : Events.set(service,
          new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
          new JsonObject().put("command", "run " + i).put("env", new JsonObject()));
      inFlight.add(log.append(nodeId, event).map(revision -> {
        synchronized (byRevision) {
          byRevision.put(revision, event);
        }
        return null;
      }));
      if (inFlight.size() == 100) {
        await(Future.all(inFlight));
        inFlight.clear();
      }
    }
    await(Future.all(inFlight));
    Map<String, String> expected = new TreeMap<>();
    byRevision.values().forEach(e -> apply(expected, e));
    // 100 appends in flight outrun the compaction a little; it catches up once they stop.
    for (int i = 0; i < 500 && await(log.history(nodeId)).size() > log.window(); i++) {
      await(TestCluster.delay(controller.controlPlane().vertx(), 20));
    }
    return new Changed(expected, byRevision.lastKey());
  }

  /** Applies one event as a worker does (a resync replaces everything). */
  private static void apply(Map<String, String> services, JsonObject e) {
    switch (e.getString("kind")) {
      case Events.SET -> services.put(e.getString("service"), e.getJsonObject("spec").getString("command"));
      case Events.DELETE -> services.remove(e.getString("service"));
      case Events.RESYNC -> {
        services.clear();
        e.getJsonArray("services").forEach(o -> apply(services, (JsonObject) o));
      }
      default -> { }
    }
  }

  @Test
  void aGrpcWorkerResumingFromZeroGetsAResyncAndEndsWithTheCurrentServices(Vertx vertx) throws Exception {
    Identity identity = RawWorker.register(vertx, controller);
    Changed changed = change(identity.nodeId());
    Map<String, String> expected = changed.expected();
    long last = changed.last();
    int kept = await(controller.controlPlane().assignments().history(identity.nodeId())).size();

    ClusterControlPlaneGrpcClient stub = TestCluster.stub(vertx, controller, identity);
    Map<String, String> services = new TreeMap<>(Map.of("stale", "left from before"));
    List<AssignmentEvent> received = new ArrayList<>();
    Promise<Void> caughtUp = Promise.promise();
    // The handlers are set on the event loop that delivers the stream, before its first event.
    // Set from this thread once the stream was live, they raced its first events (the pattern of
    // the Vert.x client race in it/VertxLateBodyTest); once in CI the stream then sat unread until
    // the controller cut it as a slow consumer (10 s).
    await(stub.watchAssignments(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId())
        .setLastSeenRevision(0).build()).onSuccess(stream -> {
          stream.handler(event -> {
            received.add(event);
            apply(services, Events.assignmentToJson(event));
            if (event.getRevision() >= last) {
              caughtUp.tryComplete();
            }
          });
          stream.exceptionHandler(caughtUp::tryFail);
          stream.endHandler(v -> caughtUp.tryFail("the watch ended after " + received.size() + " events"));
        }));
    await(caughtUp.future());
    System.out.printf("abuse history: %,d changes, %,d events kept; a gRPC watch from revision 0 got %,d events"
        + " (the first a resync of %d services) and runs %d services%n", CHANGES, kept, received.size(),
        received.get(0).getResync().getServicesCount(), services.size());
    assertTrue(received.get(0).hasResync(), "the first event is a resync");
    assertTrue(kept <= NodeEventLog.DEFAULT_WINDOW, "kept " + kept);
    assertTrue(received.size() <= NodeEventLog.DEFAULT_WINDOW + 1, "got " + received.size());
    assertEquals(expected, services);
  }

  @Test
  void aLegacyWorkerPollingFromZeroGetsAResyncAndEndsWithTheCurrentServices(Vertx vertx) throws Exception {
    LegacyClient client = new LegacyClient(vertx, controller);
    try {
      JsonObject node = await(client.register(TestCluster.mint(controller).encode()));
      Changed changed = change(node.getLong("node_id"));
      Map<String, String> expected = changed.expected();
      long last = changed.last();

      Map<String, String> services = new TreeMap<>(Map.of("stale", "left from before"));
      long revision = 0;
      int polls = 0;
      boolean resynced = false;
      while (revision < last && polls++ < 100) {
        JsonObject reply = await(client.poll(node, revision, 0)).json();
        for (Object o : reply.getJsonArray("events")) {
          JsonObject e = (JsonObject) o;
          resynced |= Events.RESYNC.equals(e.getString("kind"));
          assertTrue(e.getLong("revision") > revision, "revisions only grow");
          apply(services, e);
        }
        revision = reply.getLong("revision");
      }
      System.out.printf("abuse history: a legacy poll from revision 0 after %,d changes: %d polls, resync %s,"
          + " %d services%n", CHANGES, polls, resynced, services.size());
      assertTrue(resynced, "a poll from before the window got a resync");
      assertEquals(expected, services);
    } finally {
      await(client.close());
    }
  }
}
