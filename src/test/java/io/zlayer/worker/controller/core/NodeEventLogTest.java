package io.zlayer.worker.controller.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.store.EmbeddedStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, bounded history: a node's log keeps its window, folds the rest, and a reader from
 * before the window gets a resync that, with the events after it, leaves exactly the current state;
 * the embedded store's size is bounded by the fleet, not by the history.
 */
@ExtendWith(VertxExtension.class)
class NodeEventLogTest {
  /** Changes of one service for the size bound (100,000 in bench/abuse --full). */
  private static final int MANY_CHANGES = Integer.getInteger("zlayer.abuse.historyChanges", 20_000);
  private static final int FEW_CHANGES = 1_000;

  @TempDir
  Path dir;

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /** A set event; its size does not depend on {@code version} (fixed width), so stores compare by count. */
  private static JsonObject set(String service, int version) {
    String v = String.format("%07d", version);
    return Events.set(service, new JsonArray().add(new JsonObject().put("role", "default")
        .put("indices", new JsonArray().add(0))), new JsonObject().put("command", "run " + v)
        .put("env", new JsonObject().put("V", v)));
  }

  /** Appends {@code n} events made by {@code event}, up to 200 in flight (the store groups them). */
  private static void appendAll(NodeEventLog log, long node, int n, java.util.function.IntFunction<JsonObject> event)
      throws Exception {
    List<Future<Long>> inFlight = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      inFlight.add(log.append(node, event.apply(i)));
      if (inFlight.size() == 200) {
        await(Future.all(inFlight));
        inFlight.clear();
      }
    }
    await(Future.all(inFlight));
    compacted(log, node);
  }

  /** Compacts until the window holds (what the last appends started may still be running). */
  private static void compacted(NodeEventLog log, long node) throws Exception {
    for (int round = 0; round < 1_000 && await(log.history(node)).size() > log.window(); round++) {
      await(log.compact(node));
    }
  }

  /** What a worker that applies {@code events} in order ends with: service -> command. */
  private static Map<String, String> apply(Map<String, String> services, List<NodeEventLog.Entry> events) {
    for (NodeEventLog.Entry e : events) {
      JsonObject b = e.body();
      switch (b.getString("kind")) {
        case Events.SET -> services.put(b.getString("service"), b.getJsonObject("spec").getString("command"));
        case Events.DELETE -> services.remove(b.getString("service"));
        case Events.RESYNC -> {
          services.clear();
          b.getJsonArray("services").forEach(o -> services.put(((JsonObject) o).getString("service"),
              ((JsonObject) o).getJsonObject("spec").getString("command")));
        }
        default -> { }
      }
    }
    return services;
  }

  /** Reads everything after {@code revision} by pages, as a watch or a poll does. */
  private static List<NodeEventLog.Entry> readAll(NodeEventLog log, long node, long revision, int page) throws Exception {
    List<NodeEventLog.Entry> all = new ArrayList<>();
    long last = revision;
    for (int guard = 0; guard < 10_000; guard++) {
      List<NodeEventLog.Entry> got = await(log.after(node, last, page));
      for (NodeEventLog.Entry e : got) {
        assertTrue(e.revision() > last, "revision " + e.revision() + " after " + last);
        last = e.revision();
      }
      all.addAll(got);
      if (got.size() < page) {
        return all;
      }
    }
    throw new AssertionError("no end");
  }

  @Test
  void aReaderFromBeforeTheWindowGetsAResyncThenTheWindow(Vertx vertx) throws Exception {
    EmbeddedStore store = await(EmbeddedStore.open(vertx, dir.resolve("store"), false));
    try {
      int window = 100;
      NodeEventLog log = new NodeEventLog(store, "assignment-log", AssignmentFold.INSTANCE, window);
      Random random = new Random(14);
      Map<String, String> expected = new TreeMap<>();
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 3_000; i++) {
        String service = "svc-" + random.nextInt(40);
        JsonObject e = random.nextInt(4) == 0 ? Events.delete(service) : set(service, i);
        events.add(e);
      }
      apply(expected, events.stream().map(b -> new NodeEventLog.Entry(0, b)).toList());
      // One at a time here: the expected state is the order of the appends.
      for (JsonObject e : events) {
        await(log.append(7, e));
      }
      compacted(log, 7);
      List<NodeEventLog.Entry> kept = await(log.history(7));
      assertTrue(kept.size() <= window, "kept " + kept.size());
      for (int page : new int[] {1000, 16, 1}) {
        List<NodeEventLog.Entry> read = readAll(log, 7, 0, page);
        assertEquals(Events.RESYNC, read.get(0).body().getString("kind"));
        assertEquals(expected, apply(new TreeMap<>(Map.of("stale", "x")), read), "page " + page);
      }
      // From inside the window: no resync, just the events after it.
      long inside = kept.get(kept.size() / 2).revision();
      List<NodeEventLog.Entry> tail = readAll(log, 7, inside, 1000);
      assertEquals(kept.size() - kept.size() / 2 - 1, tail.size());
      assertTrue(tail.stream().noneMatch(e -> Events.RESYNC.equals(e.body().getString("kind"))));
      // The folded state answers "does the node have this service" (unassign).
      Map<String, String> state = new TreeMap<>();
      AssignmentFold.services(await(log.state(7))).forEach((k, v) -> state.put(k, v.getJsonObject("spec").getString("command")));
      assertEquals(expected, state);
    } finally {
      await(store.close());
    }
  }

  @Test
  void theNewestPushedConfigOutlivesTheCommandWindow(Vertx vertx) throws Exception {
    EmbeddedStore store = await(EmbeddedStore.open(vertx, dir.resolve("store"), false));
    try {
      NodeEventLog log = new NodeEventLog(store, "command-log", CommandFold.INSTANCE, 16);
      await(log.append(3, Events.pushConfig(5, "a: 1")));
      for (int i = 0; i < 100; i++) {
        await(log.append(3, Events.shutdown("stale " + i)));
      }
      compacted(log, 3);
      List<NodeEventLog.Entry> read = readAll(log, 3, 0, 1000);
      assertEquals(Events.PUSH_CONFIG, read.get(0).body().getString("kind"));
      assertEquals(5L, read.get(0).body().getLong("version"));
      assertTrue(read.get(0).body().getBoolean(Events.RESYNC));
      assertTrue(read.size() <= 17, "read " + read.size());
    } finally {
      await(store.close());
    }
  }

  /** The store's files after {@code changes} changes of one service, closed (its WAL checkpointed). */
  private long storeBytesAfter(Vertx vertx, Path at, int changes) throws Exception {
    EmbeddedStore store = await(EmbeddedStore.open(vertx, at, false));
    try {
      NodeEventLog log = new NodeEventLog(store, "assignment-log", AssignmentFold.INSTANCE, NodeEventLog.DEFAULT_WINDOW);
      appendAll(log, 1, changes, i -> set("web", i));
      int kept = await(log.history(1)).size();
      assertTrue(kept <= NodeEventLog.DEFAULT_WINDOW, "kept " + kept + " after " + changes);
      assertEquals(List.of("web"), List.copyOf(AssignmentFold.services(await(log.state(1))).keySet()));
    } finally {
      await(store.close());
    }
    long bytes = 0;
    try (var files = Files.list(at)) {
      for (Path f : files.toList()) {
        bytes += Files.size(f);
      }
    }
    return bytes;
  }

  @Test
  void theEmbeddedStoreIsBoundedByTheFleetNotTheHistory(Vertx vertx) throws Exception {
    long t0 = System.nanoTime();
    long few = storeBytesAfter(vertx, dir.resolve("few"), FEW_CHANGES);
    long many = storeBytesAfter(vertx, dir.resolve("many"), MANY_CHANGES);
    long ms = Duration.ofNanos(System.nanoTime() - t0).toMillis();
    System.out.printf("abuse history: store after %,d changes of one service %,d bytes; after %,d changes %,d bytes"
        + " (window %,d; %,d ms)%n", FEW_CHANGES, few, MANY_CHANGES, many, NodeEventLog.DEFAULT_WINDOW, ms);
    assertTrue(many <= few, "after " + MANY_CHANGES + " changes " + many + " bytes, after " + FEW_CHANGES + " " + few);
  }
}
