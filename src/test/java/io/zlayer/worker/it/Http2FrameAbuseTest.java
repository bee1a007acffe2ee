package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http2.Http2Headers;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.it.H2Raw.Conn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, the abuse suite: HTTP/2 frame-level cases from a raw client ({@link H2Raw}: TLS, ALPN
 * h2, frames written byte for byte) against the controller's worker port. Each case is one
 * connection; the controller must refuse it (GOAWAY, RST_STREAM or a close of that connection) or
 * handle it within bounds, never answer INTERNAL or a 5xx, while {@code /healthz} (HTTP/2 and
 * HTTP/1.1, polled all along on connections of their own) keeps answering within 1 s.
 */
@ExtendWith(VertxExtension.class)
class Http2FrameAbuseTest {
  /** How long a case may take to be refused. */
  private static final long VERDICT_MS = 5_000;
  private static final int FLOOD = Integer.getInteger("zlayer.abuse.frameFlood", 10_000);

  @TempDir
  Path dir;
  private ControllerNode controller;
  private H2Raw raw;
  private HealthProbe probe;

  /** One case: writes its frames on a fresh connection and returns what counts as its outcome. */
  private interface Abuse {
    CompletableFuture<String> run(Conn c) throws Exception;
  }

  private record Case(String name, String inputs, boolean mustRefuse, Abuse abuse) {
  }

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    raw = new H2Raw(controller.port());
    probe = HealthProbe.start(vertx, controller.port());
  }

  @AfterEach
  void stop() throws Exception {
    if (probe != null) {
      await(probe.stop());
    }
    raw.close();
    await(controller.stop());
  }

  private static CompletableFuture<String> orAnswer(Conn c, int stream) {
    return CompletableFuture.anyOf(c.verdict, c.answer(stream).thenApply(s -> s < 0 ? "reset" : "HTTP " + s))
        .thenApply(Object::toString);
  }

  private static Http2Headers get(String path) {
    return Conn.request("GET", path);
  }

  private static Http2Headers post(String path) {
    return Conn.request("POST", path).set("content-type", "application/json");
  }

  private List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    cases.add(new Case("settings-initial-window", "SETTINGS_INITIAL_WINDOW_SIZE 2^31", true,
        c -> { c.preface().frame(H2Raw.SETTINGS, 0, 0, Conn.settings(4, 0x8000_0000L)).flush(); return c.verdict; }));
    cases.add(new Case("settings-max-frame-low", "SETTINGS_MAX_FRAME_SIZE 16383", true,
        c -> { c.preface().frame(H2Raw.SETTINGS, 0, 0, Conn.settings(5, 16_383)).flush(); return c.verdict; }));
    cases.add(new Case("settings-max-frame-high", "SETTINGS_MAX_FRAME_SIZE 2^24", true,
        c -> { c.preface().frame(H2Raw.SETTINGS, 0, 0, Conn.settings(5, 1 << 24)).flush(); return c.verdict; }));
    cases.add(new Case("settings-bad-length", "a SETTINGS payload of 5 bytes", true,
        c -> { c.preface().frame(H2Raw.SETTINGS, 0, 0, new byte[5]).flush(); return c.verdict; }));
    cases.add(new Case("window-update-overflow", "connection WINDOW_UPDATE +2^31-1 on a 65,535 window", true,
        c -> { c.preface().frame(H2Raw.WINDOW_UPDATE, 0, 0, Conn.u32(0x7fff_ffffL)).flush(); return c.verdict; }));
    cases.add(new Case("window-update-stream-overflow", "stream WINDOW_UPDATE +2^31-1 twice on a held poll", true,
        c -> {
          c.preface().headers(1, post("/worker/poll"), false)
              .frame(H2Raw.WINDOW_UPDATE, 0, 1, Conn.u32(0x7fff_ffffL)).frame(H2Raw.WINDOW_UPDATE, 0, 1, Conn.u32(0x7fff_ffffL)).flush();
          return c.verdict;
        }));
    cases.add(new Case("window-update-zero", "connection WINDOW_UPDATE +0", true,
        c -> { c.preface().frame(H2Raw.WINDOW_UPDATE, 0, 0, Conn.u32(0)).flush(); return c.verdict; }));
    cases.add(new Case("window-update-zero-stream", "stream WINDOW_UPDATE +0 on a held poll", true,
        c -> { c.preface().headers(1, post("/worker/poll"), false).frame(H2Raw.WINDOW_UPDATE, 0, 1, Conn.u32(0)).flush(); return c.verdict; }));
    cases.add(new Case("ping-flood", String.format("%,d PINGs, client not reading", FLOOD), false, c -> flood(c, H2Raw.PING, 8)));
    cases.add(new Case("settings-flood", String.format("%,d empty SETTINGS, client not reading", FLOOD), false,
        c -> flood(c, H2Raw.SETTINGS, 0)));
    cases.add(new Case("empty-data-flood", String.format("%,d empty DATA frames on one stream", FLOOD), true, c -> {
      c.preface().headers(1, post("/worker/poll"), false);
      for (int i = 0; i < FLOOD; i++) {
        c.frame(H2Raw.DATA, 0, 1, new byte[0]);
      }
      c.flush();
      return c.verdict;
    }));
    cases.add(new Case("headers-closed-stream", "HEADERS again on stream 1 after its response", true, c -> {
      c.preface().headers(1, get("/healthz"), true).flush();
      c.answer(1).get(VERDICT_MS, TimeUnit.MILLISECONDS);
      c.headers(1, get("/healthz"), true).flush();
      return c.verdict;
    }));
    cases.add(new Case("headers-idle-lower-id", "HEADERS on stream 3 after stream 5", true, c -> {
      c.preface().headers(5, get("/healthz"), true).flush();
      c.answer(5).get(VERDICT_MS, TimeUnit.MILLISECONDS);
      c.headers(3, get("/healthz"), true).flush();
      return c.verdict;
    }));
    cases.add(new Case("even-stream-id", "HEADERS on stream 2", true,
        c -> { c.preface().headers(2, get("/healthz"), true).flush(); return c.verdict; }));
    cases.add(new Case("continuation-flood", String.format("HEADERS without END_HEADERS + %,d CONTINUATIONs of 1 KiB", FLOOD), true, c -> {
      byte[] block = c.block(1, post("/worker/poll"));
      c.preface().frame(H2Raw.HEADERS, 0, 1, block);
      byte[] literal = new byte[1024];
      java.util.Arrays.fill(literal, (byte) 'a');
      for (int i = 0; i < FLOOD; i++) {
        c.frame(H2Raw.CONTINUATION, 0, 1, literal);
      }
      c.flush();
      return c.verdict;
    }));
    cases.add(new Case("huge-header-list", "GET /healthz with 40 headers of 500 bytes (20 KiB, HEADERS + CONTINUATION)", true, c -> {
      Http2Headers headers = get("/healthz");
      for (int i = 0; i < 40; i++) {
        headers.add("x-pad-" + i, "p".repeat(500));
      }
      c.preface().headers(1, headers, true).flush();
      return orAnswer(c, 1);
    }));
    cases.add(new Case("priority-self-dependency", "PRIORITY on stream 3 depending on stream 3", true, c -> {
      byte[] self3 = java.nio.ByteBuffer.allocate(5).putInt(3).put((byte) 15).array();
      c.preface().frame(H2Raw.PRIORITY, 0, 3, self3).flush();
      return c.verdict;
    }));
    cases.add(new Case("rst-stream-flood", "300 held polls opened and reset (RST_STREAM CANCEL)", true, c -> {
      c.preface();
      for (int i = 0; i < 300; i++) {
        int stream = 1 + 2 * i;
        c.headers(stream, post("/worker/poll"), false).frame(H2Raw.RST_STREAM, 0, stream, Conn.u32(8));
      }
      c.flush();
      return CompletableFuture.anyOf(c.closed.thenApply(v -> "closed"), goAway(c)).thenApply(Object::toString);
    }));
    cases.add(new Case("unknown-frame-types", "1,000 frames of types 0x20-0xff (0-100 random bytes), then GET /healthz", false, c -> {
      Random random = new Random(14);
      c.preface();
      for (int i = 0; i < 1_000; i++) {
        byte[] payload = new byte[random.nextInt(101)];
        random.nextBytes(payload);
        c.frame(0x20 + random.nextInt(0xe0), random.nextInt(256), random.nextInt(4) * 2 + 1, payload);
      }
      c.headers(11, get("/healthz"), true).flush();
      return orAnswer(c, 11);
    }));
    cases.add(new Case("garbage-preface", "64 random bytes instead of the preface", true, c -> {
      byte[] garbage = new byte[64];
      new Random(7).nextBytes(garbage);
      c.raw(garbage).flush();
      return c.verdict;
    }));
    return cases;
  }

  /** GOAWAY with its code, ignoring the RST_STREAMs of the resets themselves; or the close. */
  private static CompletableFuture<String> goAway(Conn c) {
    return c.goAway.thenApply(code -> "GOAWAY " + Conn.errorName(code));
  }

  /** {@link #FLOOD} frames of {@code type} on stream 0 while not reading; then reads and waits for the answers or a refusal. */
  private static CompletableFuture<String> flood(Conn c, int type, int payloadBytes) throws Exception {
    c.preface().flush();
    c.autoRead(false);
    for (int i = 0; i < FLOOD; i++) {
      c.frame(type, 0, 0, new byte[payloadBytes]);
    }
    c.flush();
    Thread.sleep(500); // the flood is in flight with nobody reading the answers: what the controller queues
    c.autoRead(true);
    java.util.function.IntSupplier acks = type == H2Raw.PING ? c.pingAcks::get : c.settingsAcks::get;
    c.ackTarget = FLOOD + (type == H2Raw.SETTINGS ? 1 : 0); // the preface's own SETTINGS is acked too
    if (acks.getAsInt() >= c.ackTarget) {
      c.acked.complete(null);
    }
    try {
      CompletableFuture.anyOf(c.verdict, c.acked).get(VERDICT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // reported below as the acks counted
    }
    if (c.verdict.isDone()) {
      return CompletableFuture.completedFuture(c.verdict.getNow("") + String.format(" after %,d acks", acks.getAsInt()));
    }
    return CompletableFuture.completedFuture(String.format("answered %,d of %,d", acks.getAsInt(), FLOOD));
  }

  @Test
  void hostileFramesAreRefusedAndHealthzKeepsAnswering(Vertx vertx) throws Exception {
    // Warm-up, not a case: the first TLS connections of a JVM load and compile the handshake, HPACK
    // and routing code (up to ~1 s on a loaded box), which would be charged to the first case.
    await(probe.once());
    Conn warm = raw.connect();
    warm.preface().headers(1, get("/healthz"), true).flush();
    warm.answer(1).get(VERDICT_MS, TimeUnit.MILLISECONDS);
    warm.close();
    long heapAtStart = usedHeap();
    List<String> failures = new ArrayList<>();
    int refused = 0;
    for (Case k : cases()) {
      HealthProbe.Figures probeBefore = probe.figures();
      long heapBefore = usedHeap();
      long t0 = System.nanoTime();
      String outcome;
      try (LoopLag lag = LoopLag.start(vertx)) {
        Conn c = raw.connect();
        try {
          outcome = k.abuse().run(c).get(VERDICT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          outcome = "open";
        } finally {
          c.close();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // after the case: /healthz on a fresh connection of each protocol
        long healthzAfter = await(probe.once());
        HealthProbe.Figures during = probe.figures().since(probeBefore);
        long heapAfter = lag.excluding(Http2FrameAbuseTest::usedHeap);
        boolean wasRefused = outcome.startsWith("GOAWAY") || outcome.startsWith("RST_STREAM") || outcome.startsWith("closed")
            || outcome.startsWith("reset") || outcome.equals("HTTP 431");
        refused += wasRefused ? 1 : 0;
        System.out.printf("abuse h2-%s: %s -> %s in %d ms; /healthz during: %d answered, 5xx %d, failed %d, slowest %d ms;"
            + " after: %d ms; heap %d -> %d MiB; %s%n", k.name(), k.inputs(), outcome, ms, during.answered(), during.fivexx(),
            during.failed(), during.slowestMs(), healthzAfter, heapBefore >> 20, heapAfter >> 20, lag.figure());
        if (k.mustRefuse() && !wasRefused) {
          failures.add(k.name() + " not refused: " + outcome);
        }
        if (outcome.contains("INTERNAL") || outcome.startsWith("HTTP 5")) {
          failures.add(k.name() + " answered " + outcome);
        }
        if (during.fivexx() > 0 || during.failed() > 0 || during.slowestMs() > 1_000 || healthzAfter > 1_000) {
          failures.add(k.name() + ": /healthz " + during + ", after " + healthzAfter + " ms");
        }
        if (!lag.withinBound()) {
          failures.add(k.name() + ": " + lag.figure());
        }
      }
    }
    long grownMb = (usedHeap() - heapAtStart) >> 20;
    HealthProbe.Figures all = probe.figures();
    System.out.printf("abuse h2-frames: %d cases, %d refused (GOAWAY, RST_STREAM, 431 or closed), the others handled;"
        + " /healthz all along: %d answered, 5xx %d, failed %d, slowest %d ms; heap %+d MiB over all cases%n",
        cases().size(), refused, all.answered(), all.fivexx(), all.failed(), probe.slowestMs(), grownMb);
    assertEquals(List.of(), failures);
    assertEquals(0, all.fivexx() + all.failed(), "/healthz all along: " + all);
    assertTrue(grownMb < 64, "heap grew " + grownMb + " MiB");
  }

  static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    System.gc();
    return rt.totalMemory() - rt.freeMemory();
  }
}
