package io.zlayer.worker.agent.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.StatusReport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The heartbeat of a link: what each report carries when the executor is slow or a command result waits. */
@ExtendWith(VertxExtension.class)
class ReportLoopTest {
  private static final TtlBounds BOUNDS = new TtlBounds(Duration.ofSeconds(10), Duration.ofSeconds(60));

  private static ReportLoop loop(Vertx vertx, Supplier<Future<StatusReport>> status) {
    SessionSettings settings = SessionSettings.of(List.of(new HostPort("a", 1)), () -> BOUNDS)
        .withSimulation(() -> 30, Throttle.NONE) // a report every ~30 ms
        .withTimings(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMillis(50));
    return new ReportLoop(vertx, settings, status, new SessionListener() { });
  }

  private static StatusReport state(String state) {
    return StatusReport.newBuilder().setState(state).build();
  }

  private static Future<Void> until(Vertx vertx, java.util.function.BooleanSupplier done) {
    return Future.<Void>future(p -> vertx.setPeriodic(5, id -> {
      if (done.getAsBoolean()) {
        vertx.cancelTimer(id);
        p.tryComplete();
      }
    })).timeout(5, TimeUnit.SECONDS);
  }

  @Test
  void aSnapshotThatDoesNotComeInTimeIsReplacedByTheLastOne(Vertx vertx, VertxTestContext test) {
    AtomicInteger asked = new AtomicInteger();
    // The first snapshot comes at once; later ones never (a stuck executor).
    Supplier<Future<StatusReport>> status = () -> asked.incrementAndGet() == 1
        ? Future.succeededFuture(state("first")) : Promise.<StatusReport>promise().future();
    SessionTest.FakeLink link = new SessionTest.FakeLink(null, new NoEvents(), 0, 0);
    vertx.runOnContext(v -> loop(vertx, status).start(link, 7, e -> test.failNow(e)));
    until(vertx, () -> link.reports.size() >= 3).onComplete(test.succeeding(v -> test.verify(() -> {
      assertTrue(link.reports.get(0).getFullSnapshot(), "the first report is a full snapshot");
      assertEquals("first", link.reports.get(2).getState(), "the last snapshot is sent again");
      assertFalse(link.reports.get(2).getFullSnapshot());
      assertEquals(7, link.reports.get(2).getNodeId());
      test.completeNow();
    })));
  }

  @Test
  void aCommandResultGoesOutWithTheNextReportOnce(Vertx vertx, VertxTestContext test) {
    SessionTest.FakeLink link = new SessionTest.FakeLink(null, new NoEvents(), 0, 0);
    vertx.runOnContext(v -> {
      ReportLoop loop = loop(vertx, () -> Future.succeededFuture(state("ready")));
      loop.start(link, 7, e -> test.failNow(e));
      loop.commandResult(CommandResult.newBuilder().setCommandId(3).setOk(true).setMessage("done").build());
    });
    until(vertx, () -> link.reports.size() >= 4).onComplete(test.succeeding(v -> test.verify(() -> {
      long carrying = link.reports.stream().filter(r -> r.getCommandResultsCount() > 0).count();
      assertEquals(1, carrying, "the result is reported once");
      assertEquals(3, link.reports.stream().filter(r -> r.getCommandResultsCount() > 0).findFirst().orElseThrow()
          .getCommandResults(0).getCommandId());
      test.completeNow();
    })));
  }

  /** A link's events go nowhere here: the loop alone is under test. */
  private static final class NoEvents implements Transport.Events {
    @Override
    public void assignment(io.zlayer.worker.proto.AssignmentEvent event) {
    }

    @Override
    public void command(io.zlayer.worker.proto.CommandEvent command) {
    }

    @Override
    public void ack(int ttlSecs) {
    }

    @Override
    public void closed(Throwable cause) {
    }
  }
}
