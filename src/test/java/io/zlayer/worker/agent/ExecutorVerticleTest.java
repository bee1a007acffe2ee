package io.zlayer.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes under {@code /bin/sh}. Conditions are polled through the snapshot address on a
 * Vert.x periodic timer (checks that touch the OS run on worker threads), bounded by a deadline.
 */
@ExtendWith(VertxExtension.class)
class ExecutorVerticleTest {
  private static final ExecutorVerticle.Timing FAST =
      new ExecutorVerticle.Timing(Duration.ofSeconds(3), Duration.ofMillis(100), Duration.ofMillis(400));
  private static final long WAIT_SECS = 15;

  @TempDir Path dataDir;
  @TempDir Path out;
  Vertx vertx;
  final List<Process> ownProcesses = new ArrayList<>();
  long revision;

  @BeforeEach
  void setUp(Vertx vertx) {
    this.vertx = vertx;
  }

  @AfterEach
  void tearDown() {
    ownProcesses.forEach(Process::destroyForcibly);
  }

  // ---- helpers ----

  private String deploy(ExecutorVerticle.Timing timing) {
    return await(vertx.deployVerticle(new ExecutorVerticle(dataDir, timing)));
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(WAIT_SECS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private void set(String service, String role, List<Integer> indices, String command, JsonObject env) {
    JsonArray assignments = new JsonArray().add(new JsonObject().put("role", role).put("indices", new JsonArray(new ArrayList<>(indices))));
    JsonObject spec = new JsonObject().put("command", command).put("env", env);
    vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, Events.set(service, assignments, spec).put("revision", ++revision));
  }

  private Future<JsonObject> snapshot() {
    return vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_SNAPSHOT, new JsonObject()).map(Message::body);
  }

  /** Polls the snapshot until {@code condition} (run on a worker thread, so it may touch the OS) holds. */
  private JsonObject awaitSnapshot(String what, Predicate<JsonObject> condition) {
    Promise<JsonObject> done = Promise.promise();
    long timer = vertx.setPeriodic(25, id -> snapshot()
        .compose(s -> vertx.executeBlocking(() -> condition.test(s) ? s : null, false))
        .onSuccess(s -> {
          if (s != null) {
            done.tryComplete(s);
          }
        }));
    try {
      return done.future().await(WAIT_SECS, TimeUnit.SECONDS);
    } catch (Exception e) {
      JsonObject last = await(snapshot());
      throw new AssertionError("timed out waiting for " + what + "; last snapshot " + last.encode(), e);
    } finally {
      vertx.cancelTimer(timer);
    }
  }

  /** Lets queued bus messages be handled (no synchronisation relies on it beyond "some time passed"). */
  private void pause(long ms) {
    await(vertx.timer(ms));
  }

  private static List<JsonObject> containers(JsonObject snapshot, String service) {
    List<JsonObject> out = new ArrayList<>();
    snapshot.getJsonArray("containers").forEach(o -> {
      JsonObject c = (JsonObject) o;
      if (c.getString("service").equals(service)) {
        out.add(c);
      }
    });
    return out;
  }

  private static boolean alive(long pid) {
    return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  private static boolean allRunning(JsonObject s, String service, int count) {
    List<JsonObject> cs = containers(s, service);
    return cs.size() == count && cs.stream().allMatch(c -> "running".equals(c.getString("state")) && alive(c.getLong("pid")));
  }

  // ---- tests ----

  @Test
  void setRunsReplicasWithEnvironmentAndIsIdempotent() throws Exception {
    deploy(FAST);
    String cmd = "echo $ZLAYER_SERVICE-$ZLAYER_ROLE-$ZLAYER_REPLICA-$FOO > " + out + "/out-$ZLAYER_REPLICA; exec sleep 1000";
    set("web", "api", List.of(0, 1), cmd, new JsonObject().put("FOO", "bar"));

    JsonObject s = awaitSnapshot("two running replicas with their files", snap -> allRunning(snap, "web", 2)
        && Files.exists(out.resolve("out-0")) && Files.exists(out.resolve("out-1")));
    List<JsonObject> cs = containers(s, "web");
    long pid0 = cs.get(0).getLong("pid");
    long pid1 = cs.get(1).getLong("pid");
    assertNotEquals(pid0, pid1);
    assertEquals("ready", s.getString("state"));
    assertEquals(0, cs.get(0).getInteger("replica"));
    assertEquals(1, cs.get(1).getInteger("replica"));
    assertEquals("api", cs.get(0).getString("role"));
    JsonObject resources = s.getJsonObject("resources");
    assertTrue(resources.getLong("memory_used_bytes") > 0);
    assertTrue(resources.getDouble("cpu_used") >= 0);
    assertEquals(0, resources.getInteger("gpu_used"));
    awaitSnapshot("env written", snap -> {
      try {
        return Files.readString(out.resolve("out-0")).trim().equals("web-api-0-bar")
            && Files.readString(out.resolve("out-1")).trim().equals("web-api-1-bar");
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertTrue(Files.exists(dataDir.resolve("logs").resolve("web-api-0.log")));

    // the same set again: nothing restarts
    set("web", "api", List.of(0, 1), cmd, new JsonObject().put("FOO", "bar"));
    pause(300);
    JsonObject again = await(snapshot());
    List<JsonObject> cs2 = containers(again, "web");
    assertEquals(2, cs2.size());
    assertEquals(pid0, cs2.get(0).getLong("pid"));
    assertEquals(pid1, cs2.get(1).getLong("pid"));
    assertEquals(0, cs2.get(0).getInteger("restarts"));
    assertTrue(alive(pid0) && alive(pid1));

    // scale down to index 1 only: replica 0 stops and is dropped, replica 1 is untouched
    set("web", "api", List.of(1), cmd, new JsonObject().put("FOO", "bar"));
    awaitSnapshot("replica 0 dropped", snap -> containers(snap, "web").size() == 1 && !alive(pid0));
    assertEquals(pid1, containers(await(snapshot()), "web").get(0).getLong("pid"));

    // a changed spec restarts the remaining replica
    set("web", "api", List.of(1), cmd, new JsonObject().put("FOO", "baz"));
    awaitSnapshot("replica 1 restarted with the new env", snap -> allRunning(snap, "web", 1)
        && containers(snap, "web").get(0).getLong("pid") != pid1 && !alive(pid1));
  }

  @Test
  void aResyncRunsExactlyItsServicesAndDropsTheRest() {
    deploy(FAST);
    set("old", "default", List.of(0), "sleep 1000", new JsonObject());
    set("kept", "default", List.of(0), "sleep 1000", new JsonObject());
    JsonObject s = awaitSnapshot("two running", snap -> allRunning(snap, "old", 1) && allRunning(snap, "kept", 1));
    long oldPid = containers(s, "old").get(0).getLong("pid");
    long keptPid = containers(s, "kept").get(0).getLong("pid");

    // The events that deleted "old" and added "new" fell out of the controller's window: a resync.
    JsonArray one = new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0)));
    vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, Events.resync(java.util.Map.of(
        "kept", new JsonObject().put("assignments", one).put("spec", new JsonObject().put("command", "sleep 1000").put("env", new JsonObject())),
        "new", new JsonObject().put("assignments", one).put("spec", new JsonObject().put("command", "sleep 1000").put("env", new JsonObject()))),
        false).put("revision", revision += 100));
    s = awaitSnapshot("old dropped, new running", snap -> containers(snap, "old").isEmpty()
        && allRunning(snap, "new", 1) && allRunning(snap, "kept", 1));
    assertFalse(alive(oldPid), "the dropped service's process is still alive");
    assertEquals(keptPid, containers(s, "kept").get(0).getLong("pid"), "an unchanged service was restarted");
  }

  @Test
  void deleteStopsAndForgets() {
    deploy(FAST);
    set("db", "primary", List.of(0, 1, 2), "sleep 1000", new JsonObject());
    JsonObject s = awaitSnapshot("three running", snap -> allRunning(snap, "db", 3));
    List<Long> pids = containers(s, "db").stream().map(c -> c.getLong("pid")).toList();

    vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, Events.delete("db").put("revision", ++revision));
    awaitSnapshot("replicas dropped", snap -> containers(snap, "db").isEmpty());
    for (long pid : pids) {
      assertFalse(alive(pid), "pid " + pid + " still alive");
    }
  }

  @Test
  void exitingCommandIsRestartedWithBackoff() {
    deploy(FAST);
    Set<String> states = ConcurrentHashMap.newKeySet();
    set("flaky", "default", List.of(0), "exit 3", new JsonObject());
    JsonObject s = awaitSnapshot("three restarts", snap -> {
      List<JsonObject> cs = containers(snap, "flaky");
      cs.forEach(c -> states.add(c.getString("state")));
      return cs.size() == 1 && cs.get(0).getInteger("restarts") >= 3;
    });
    assertTrue(states.contains("failed"), "states seen: " + states);
    assertEquals(1, containers(s, "flaky").size());
  }

  @Test
  void drainKillsStubbornProcessByDeadlineAndIgnoresLaterSets() throws Exception {
    // a long grace, so only the drain deadline (1 s) can explain the KILL
    deploy(new ExecutorVerticle.Timing(Duration.ofSeconds(20), Duration.ofMillis(100), Duration.ofMillis(400)));
    Path trapped = out.resolve("trapped");
    set("stubborn", "default", List.of(0),
        "trap '' TERM; touch " + trapped + "; while true; do sleep 0.1; done", new JsonObject());
    JsonObject s = awaitSnapshot("running with TERM ignored", snap -> allRunning(snap, "stubborn", 1) && Files.exists(trapped));
    long pid = containers(s, "stubborn").get(0).getLong("pid");

    long t0 = System.nanoTime();
    vertx.eventBus().send(Addresses.WORKER_EXECUTOR_DRAIN, new JsonObject().put("deadline_secs", 1));
    JsonObject drained = awaitSnapshot("stopped by the deadline", snap -> "draining".equals(snap.getString("state"))
        && containers(snap, "stubborn").size() == 1
        && "stopped".equals(containers(snap, "stubborn").get(0).getString("state")));
    long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(0L, containers(drained, "stubborn").get(0).getLong("pid"));
    assertFalse(alive(pid));
    assertTrue(elapsedMs >= 900, "stopped after " + elapsedMs + " ms although TERM is ignored");
    assertTrue(elapsedMs < 10_000, "stopped after " + elapsedMs + " ms");

    // no new work while draining, and the flag is on disk
    set("late", "default", List.of(0), "sleep 1000", new JsonObject());
    pause(300);
    assertTrue(containers(await(snapshot()), "late").isEmpty());
    JsonObject file = new JsonObject(Files.readString(dataDir.resolve("executor.json")));
    assertTrue(file.getBoolean("draining"));
    assertFalse(file.getJsonObject("services").containsKey("late"));
  }

  @Test
  void restartedWorkerResumesAssignments() throws Exception {
    String id = deploy(FAST);
    set("svc", "default", List.of(0, 1), "sleep 1000", new JsonObject().put("X", "1"));
    JsonObject s = awaitSnapshot("two running", snap -> allRunning(snap, "svc", 2));
    List<Long> before = containers(s, "svc").stream().map(c -> c.getLong("pid")).toList();

    await(vertx.undeploy(id));
    for (long pid : before) {
      assertFalse(alive(pid), "pid " + pid + " survived undeploy");
    }
    JsonObject file = new JsonObject(Files.readString(dataDir.resolve("executor.json")));
    assertTrue(file.getJsonObject("services").containsKey("svc"));
    assertTrue(file.getJsonArray("processes").isEmpty());

    deploy(FAST);
    JsonObject after = awaitSnapshot("two running again", snap -> allRunning(snap, "svc", 2));
    for (JsonObject c : containers(after, "svc")) {
      assertFalse(before.contains(c.getLong("pid")));
    }
  }

  @Test
  void orphansOfACrashedRunAreKilledAndStrangersAreNot() throws Exception {
    Process orphan = new ProcessBuilder("sleep", "1000").start();
    Process stranger = new ProcessBuilder("sleep", "1000").start();
    ownProcesses.add(orphan);
    ownProcesses.add(stranger);
    long orphanStart = orphan.toHandle().info().startInstant().orElseThrow().toEpochMilli();
    long strangerStart = stranger.toHandle().info().startInstant().orElseThrow().toEpochMilli();
    JsonObject state = new JsonObject().put("draining", false).put("services", new JsonObject())
        .put("processes", new JsonArray()
            .add(new JsonObject().put("service", "old").put("role", "default").put("replica", 0)
                .put("pid", orphan.pid()).put("start_millis", orphanStart))
            // same pid, other start instant: the pid was reused by an unrelated process
            .add(new JsonObject().put("service", "old").put("role", "default").put("replica", 1)
                .put("pid", stranger.pid()).put("start_millis", strangerStart - 60_000)));
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("executor.json"), state.encode());

    deploy(FAST);
    assertTrue(orphan.waitFor(WAIT_SECS, TimeUnit.SECONDS), "orphan still alive");
    assertTrue(stranger.isAlive(), "an unrelated process was killed");
    assertTrue(containers(await(snapshot()), "old").isEmpty());
  }

  @Test
  void keptReplicasAreAdoptedByTheNextRunAndTheirExitIsStillNoticed() throws Exception {
    ExecutorVerticle first = new ExecutorVerticle(dataDir, FAST);
    String id = await(vertx.deployVerticle(first));
    set("svc", "default", List.of(0), "sleep 1000", new JsonObject());
    long pid = containers(awaitSnapshot("svc/0 running", snap -> allRunning(snap, "svc", 1)), "svc").get(0).getLong("pid");
    long ticks = ProcessControl.startTicks(pid);
    assertTrue(ticks > 0, "/proc gives the start time of " + pid);
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      // /proc/<pid>/stat field 6 is the session: a session of its own, so a Ctrl-C to the agent's group misses it
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      long session = Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3]);
      assertEquals(pid, session, "the replica leads its own session");
    }

    first.keepWorkloadsOnStop(true); // an agent restart, not a leave
    await(vertx.undeploy(id));
    assertTrue(alive(pid), "the replica keeps running while no agent runs");
    JsonObject recorded = new JsonObject(Files.readString(dataDir.resolve("executor.json"))).getJsonArray("processes").getJsonObject(0);
    assertEquals(pid, recorded.getLong("pid"));
    assertEquals(ticks, recorded.getLong("start_ticks"));

    deploy(FAST);
    JsonObject adopted = containers(awaitSnapshot("svc/0 adopted", snap -> allRunning(snap, "svc", 1)), "svc").get(0);
    assertEquals(pid, adopted.getLong("pid"), "the same process, not a second copy");
    assertEquals(0, adopted.getInteger("restarts"));

    // It is no longer our child: its exit is still noticed, and the replica restarts.
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    JsonObject restarted = awaitSnapshot("svc/0 restarted after its exit",
        snap -> allRunning(snap, "svc", 1) && containers(snap, "svc").get(0).getLong("pid") != pid);
    assertEquals(1, containers(restarted, "svc").get(0).getInteger("restarts"), restarted.encode());
  }

  @Test
  void recycledPidIsNotAdoptedAndNeverKilled() throws Exception {
    Process stranger = new ProcessBuilder("sleep", "1000").start();
    Process unwanted = new ProcessBuilder("sleep", "1000").start();
    ownProcesses.add(stranger);
    ownProcesses.add(unwanted);
    long strangerTicks = ProcessControl.startTicks(stranger.pid());
    assertTrue(strangerTicks > 0);
    assertTrue(ProcessControl.adopt(stranger.pid(), strangerTicks).isPresent(), "the right start time names the process");
    assertTrue(ProcessControl.adopt(stranger.pid(), strangerTicks - 1).isEmpty(), "a wrong start time does not");
    JsonObject spec = new JsonObject().put("command", "sleep 1000").put("env", new JsonObject());
    JsonObject state = new JsonObject().put("draining", false)
        .put("services", new JsonObject().put("svc", new JsonObject()
            .put("assignments", new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))))
            .put("spec", spec)))
        .put("processes", new JsonArray()
            // svc/0's pid now names another process (an earlier start time: the pid was recycled)
            .add(new JsonObject().put("service", "svc").put("role", "default").put("replica", 0)
                .put("pid", stranger.pid()).put("start_ticks", strangerTicks - 1).put("spec", spec))
            // a replica of a service that is no longer assigned: adopted only to be stopped
            .add(new JsonObject().put("service", "gone").put("role", "default").put("replica", 0)
                .put("pid", unwanted.pid()).put("start_ticks", ProcessControl.startTicks(unwanted.pid())).put("spec", spec)));
    Files.createDirectories(dataDir);
    Files.writeString(dataDir.resolve("executor.json"), state.encode());

    deploy(FAST);
    JsonObject s = awaitSnapshot("svc/0 started afresh", snap -> allRunning(snap, "svc", 1));
    assertNotEquals(stranger.pid(), containers(s, "svc").get(0).getLong("pid"), "the recycled pid was adopted");
    assertTrue(unwanted.waitFor(WAIT_SECS, TimeUnit.SECONDS), "an orphan no service wants is stopped");
    assertTrue(stranger.isAlive(), "an unrelated process was killed");
    assertTrue(containers(await(snapshot()), "gone").isEmpty());
  }
}
