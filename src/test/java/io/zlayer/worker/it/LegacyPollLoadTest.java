package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** One controller holds 1,000 long-polls and answers them on timeout and on an event. */
@ExtendWith(VertxExtension.class)
class LegacyPollLoadTest {
  private static final int POLLS = 1000;

  @TempDir
  Path dir;

  @Test
  void thousandHeldPollsAnsweredOnTimeoutAndOnEvent(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    LegacyClient client = new LegacyClient(vertx, controller);
    String token = await(controller.controlPlane().tokens().mint(Duration.ofMinutes(10), POLLS)).encode();
    List<Future<JsonObject>> registrations = new ArrayList<>();
    for (int i = 0; i < POLLS; i++) {
      registrations.add(client.register(token));
    }
    await(Future.all(registrations), Duration.ofSeconds(60));
    List<JsonObject> nodes = registrations.stream().map(Future::result).toList();
    long revision = await(controller.controlPlane().store().revision());

    // Round 1: all held, all answered empty at their 3 s timeout.
    long t0 = System.nanoTime();
    List<Future<LegacyClient.Reply>> round1 = nodes.stream().map(n -> client.poll(n, revision, 3)).toList();
    LegacyApiTest.awaitPolls(vertx, controller, held -> held >= POLLS);
    await(Future.all(round1), Duration.ofSeconds(30));
    long ms1 = (System.nanoTime() - t0) / 1_000_000;
    for (Future<LegacyClient.Reply> f : round1) {
      assertEquals(200, f.result().status(), f.result().body());
      assertTrue(f.result().json().getJsonArray("events").isEmpty());
    }

    // Round 2: all held (30 s), each woken by an event for its own node.
    List<Future<LegacyClient.Reply>> round2 = nodes.stream().map(n -> client.poll(n, revision, 30)).toList();
    LegacyApiTest.awaitPolls(vertx, controller, held -> held >= POLLS);
    long t1 = System.nanoTime();
    List<Future<?>> assigns = new ArrayList<>();
    for (JsonObject n : nodes) {
      assigns.add(vertx.eventBus().request(Addresses.OPERATOR_ASSIGN, new JsonObject().put("node_id", n.getLong("node_id"))
          .put("service", "svc").put("indices", new JsonArray().add(0)).put("command", "true")));
    }
    await(Future.all(assigns), Duration.ofSeconds(30));
    await(Future.all(round2), Duration.ofSeconds(30));
    long ms2 = (System.nanoTime() - t1) / 1_000_000;
    for (Future<LegacyClient.Reply> f : round2) {
      JsonArray events = f.result().json().getJsonArray("events");
      assertEquals(1, events.size(), f.result().body());
    }
    System.out.printf("%d held polls: timeout round %d ms; event round (1,000 assigns + wakes) %d ms%n", POLLS, ms1, ms2);
    await(client.close());
    LegacyApiTest.awaitPolls(vertx, controller, held -> held == 0); // answered polls are no longer held
    await(controller.stop());
  }
}
