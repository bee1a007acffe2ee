package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, "limits everywhere a peer chooses a size", for legacy long-polls, end to end over
 * HTTPS: the capacity is the {@code max_held_polls} setting, and a poll beyond it is refused with
 * a 503, a JSON error and {@code Retry-After}; one poll is held per node (a newer answers the
 * older, empty); and {@code max_wait_secs} above 60 is clamped, not refused (DESIGN.md: "capped
 * at 60").
 */
@ExtendWith(VertxExtension.class)
class HeldPollLimitsTest {
  private static final int CAPACITY = 2;
  @TempDir
  Path dir;
  private ControllerNode controller;
  private LegacyClient client;

  @AfterEach
  void stop() throws Exception {
    TestCluster.stop(client, controller);
  }

  @Test
  void capacityOnePerNodeAndTheWaitCap(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx,
        TestCluster.controllerOptions(dir, new JsonObject().put("max_held_polls", CAPACITY)));
    assertEquals(CAPACITY, controller.controlPlane().options().connections().maxHeldPolls());
    client = new LegacyClient(vertx, controller);
    JsonObject a = await(client.register(TestCluster.mint(controller).encode()));
    JsonObject b = await(client.register(TestCluster.mint(controller).encode()));
    JsonObject c = await(client.register(TestCluster.mint(controller).encode()));
    long revision = await(client.poll(a, 0, 0)).json().getLong("revision");

    // The capacity: two nodes hold a poll; a third node's poll is refused at once.
    Future<LegacyClient.Reply> heldA = client.poll(a, revision, 3600); // clamped to 60 s, not refused
    Future<LegacyClient.Reply> heldB = client.poll(b, revision, 30);
    LegacyApiTest.awaitPolls(vertx, controller, n -> n == CAPACITY);
    long t0 = System.nanoTime();
    LegacyClient.Reply refused = await(client.poll(c, revision, 30));
    long refusedMs = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(503, refused.status(), refused.body());
    assertEquals("application/json", refused.headers().get("content-type").split(";")[0]);
    assertTrue(refused.json().getString("error").startsWith("too many held polls"), refused.body());
    String retryAfter = refused.headers().get("Retry-After");
    assertTrue(retryAfter != null && Integer.parseInt(retryAfter) > 0, "Retry-After: " + retryAfter);

    // One per node: a newer poll of node a answers the older one (empty, at its revision) and is
    // held in its place; the count stays at the capacity, and node c is still refused.
    Future<LegacyClient.Reply> newerA = client.poll(a, revision, 30);
    LegacyClient.Reply olderA = await(heldA, Duration.ofSeconds(10));
    assertEquals(200, olderA.status(), olderA.body());
    assertTrue(olderA.json().getJsonArray("events").isEmpty(), olderA.body());
    assertEquals(revision, olderA.json().getLong("revision"));
    LegacyApiTest.awaitPolls(vertx, controller, n -> n == CAPACITY);
    assertEquals(503, await(client.poll(c, revision, 30)).status());
    assertFalse(newerA.isComplete(), "the newer poll is held");

    // The newer poll is the live one: an assignment to node a wakes it.
    long assigned = await(vertx.eventBus().<JsonObject>request(Addresses.OPERATOR_ASSIGN, new JsonObject()
        .put("node_id", a.getLong("node_id")).put("service", "web").put("indices", new JsonArray().add(0))
        .put("command", "true"))).body().getLong("revision");
    JsonObject woke = await(newerA, Duration.ofSeconds(10)).json();
    assertEquals(assigned, woke.getLong("revision"));
    assertEquals(1, woke.getJsonArray("events").size());

    // A slot is free again: node c is held now.
    Future<LegacyClient.Reply> heldC = client.poll(c, revision, 30);
    LegacyApiTest.awaitPolls(vertx, controller, n -> n == CAPACITY);
    assertFalse(heldC.isComplete(), "node c's poll is held");
    System.out.printf("abuse held-polls: capacity %d (max_held_polls); a poll beyond it answered 503 in %d ms with"
        + " Retry-After %s and a JSON error; a newer poll answered the older (one per node); max_wait_secs 3600"
        + " clamped to 60%n", CAPACITY, refusedMs, retryAfter);
  }
}
