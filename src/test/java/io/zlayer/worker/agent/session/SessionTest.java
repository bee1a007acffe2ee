package io.zlayer.worker.agent.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The session's rules over a fake transport: join, rotation, resume, reporting, refusal. */
@ExtendWith(VertxExtension.class)
class SessionTest {
  private static final HostPort A = new HostPort("a", 1);
  private static final HostPort B = new HostPort("b", 2);
  private static final TtlBounds BOUNDS = new TtlBounds(Duration.ofSeconds(10), Duration.ofSeconds(60));

  record Node(long nodeId, String clusterId, String caPem) implements Credentials {
  }

  /** A link the test drives: it records the reports and lets the test ack or close it. */
  static final class FakeLink implements Transport.Link {
    final HostPort server;
    final Transport.Events events;
    final long fromRevision;
    final long fromCommand;
    final List<StatusReport> reports = new CopyOnWriteArrayList<>();
    boolean closed;

    FakeLink(HostPort server, Transport.Events events, long fromRevision, long fromCommand) {
      this.server = server;
      this.events = events;
      this.fromRevision = fromRevision;
      this.fromCommand = fromCommand;
    }

    @Override
    public Future<Void> report(StatusReport report) {
      reports.add(report);
      events.ack(30); // the controller accepts every report
      return Future.succeededFuture();
    }

    @Override
    public Future<Credentials> renew(Credentials current, KeyMaterial keys) {
      return Future.failedFuture("not in this test");
    }

    @Override
    public Future<Void> deregister(long nodeId, String reason) {
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> close() {
      closed = true;
      return Future.succeededFuture();
    }
  }

  /** Opens links as {@code behaviour} decides per attempt; records every attempt. */
  static final class FakeTransport implements Transport {
    final List<FakeLink> opened = new CopyOnWriteArrayList<>();
    final List<HostPort> attempts = new CopyOnWriteArrayList<>();
    final BiFunction<Integer, HostPort, Throwable> behaviour;
    int registrations;

    FakeTransport(BiFunction<Integer, HostPort, Throwable> behaviour) {
      this.behaviour = behaviour;
    }

    @Override
    public Future<Credentials> register(HostPort server, JoinTicket ticket, KeyMaterial keys, WorkerProfile profile) {
      registrations++;
      return Future.succeededFuture(new Node(7, ticket.clusterId(), ticket.caPem()));
    }

    @Override
    public Future<Link> open(HostPort server, Credentials credentials, long lastRevision, long lastCommandId,
                             Events events) {
      attempts.add(server);
      Throwable failure = behaviour.apply(attempts.size(), server);
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      FakeLink link = new FakeLink(server, events, lastRevision, lastCommandId);
      opened.add(link);
      return Future.succeededFuture(link);
    }
  }

  /** Records what the session tells, in order. */
  static final class Recorder implements SessionListener {
    final List<String> events = new CopyOnWriteArrayList<>();
    final List<Long> revisions = new CopyOnWriteArrayList<>();
    Refusal refusal;

    @Override
    public void joined(Credentials credentials, boolean registered) {
      events.add(registered ? "registered" : "loaded");
    }

    @Override
    public void up(Credentials credentials, HostPort server, long epoch) {
      events.add("up " + server.host());
    }

    @Override
    public void down(Credentials credentials, HostPort server, String cause, long epoch) {
      events.add("down " + server.host());
    }

    @Override
    public void failed(HostPort server, Throwable cause, boolean joining) {
      events.add("failed " + server.host());
    }

    @Override
    public void assignment(AssignmentEvent event) {
      revisions.add(event.getRevision());
    }

    @Override
    public void refused(Credentials credentials, Refusal refusal) {
      events.add("refused");
      this.refusal = refusal;
    }
  }

  private static Session session(Vertx vertx, FakeTransport transport, Recorder recorder, CredentialStore store,
                                 ResumeStore resume) {
    SessionSettings settings = SessionSettings.of(List.of(A, B), () -> BOUNDS)
        .withTimings(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMillis(200));
    Backoff fast = new Backoff(Duration.ofMillis(5), Duration.ofMillis(20), () -> 0.5);
    return new Session(vertx, settings, new Session.Parts(transport,
        server -> Future.succeededFuture(new JoinTicket("token", "c1", "ca", () -> { })),
        () -> Future.succeededFuture(new KeyMaterial("key", new byte[] {1})), WorkerProfile::getDefaultInstance,
        store, resume, () -> Future.succeededFuture(StatusReport.newBuilder().setState("ready").build()), recorder),
        fast);
  }

  private static CredentialStore holding(Credentials c) {
    CredentialStore store = CredentialStore.inMemory();
    store.save(c);
    return store;
  }

  /** Completes when {@code done} holds, checking every few milliseconds on the event loop. */
  private static Future<Void> until(Vertx vertx, java.util.function.BooleanSupplier done) {
    return Future.<Void>future(p -> vertx.setPeriodic(5, id -> {
      if (done.getAsBoolean()) {
        vertx.cancelTimer(id);
        p.tryComplete();
      }
    })).timeout(5, TimeUnit.SECONDS);
  }

  @Test
  void joinsOnceThenComesUpOnlyAfterTheFirstReportIsAcked(Vertx vertx, VertxTestContext test) {
    FakeTransport transport = new FakeTransport((n, server) -> null);
    Recorder recorder = new Recorder();
    CredentialStore store = CredentialStore.inMemory();
    ResumeStore resume = ResumeStore.inMemory();
    resume.revisionApplied(5); // an old history: a new identity must forget it
    vertx.runOnContext(v -> session(vertx, transport, recorder, store, resume).start());
    until(vertx, () -> recorder.events.contains("up a")).onComplete(test.succeeding(v -> test.verify(() -> {
      assertEquals(List.of("registered", "up a"), recorder.events, "connects to the server that registered it");
      assertEquals(1, transport.registrations);
      assertEquals(0, resume.lastRevision(), "resume points reset for the new identity");
      assertTrue(store.load().result().isPresent(), "credentials stored");
      StatusReport first = transport.opened.get(0).reports.get(0);
      assertTrue(first.getFullSnapshot(), "the first report after connecting is a full snapshot");
      assertEquals(7, first.getNodeId());
      test.completeNow();
    })));
  }

  @Test
  void aFailingServerIsSkippedAfterABackoffAndTheNextOneUsed(Vertx vertx, VertxTestContext test) {
    FakeTransport transport = new FakeTransport((n, server) -> server == A ? new IllegalStateException("refused") : null);
    Recorder recorder = new Recorder();
    vertx.runOnContext(v -> session(vertx, transport, recorder, holding(new Node(7, "c1", "ca")),
        ResumeStore.inMemory()).start());
    until(vertx, () -> recorder.events.contains("up b")).onComplete(test.succeeding(v -> test.verify(() -> {
      assertEquals(List.of("loaded", "failed a", "up b"), recorder.events);
      assertEquals(List.of(A, B), transport.attempts);
      test.completeNow();
    })));
  }

  @Test
  void aReconnectResumesAfterTheLastAppliedRevisionAndDropsDuplicates(Vertx vertx, VertxTestContext test) {
    FakeTransport transport = new FakeTransport((n, server) -> null);
    Recorder recorder = new Recorder();
    ResumeStore resume = ResumeStore.inMemory();
    vertx.runOnContext(v -> session(vertx, transport, recorder, holding(new Node(7, "c1", "ca")), resume).start());
    until(vertx, () -> recorder.events.contains("up a")).compose(v -> {
      FakeLink first = transport.opened.get(0);
      for (long revision : new long[] {1, 2, 2, 1, 3}) {
        first.events.assignment(AssignmentEvent.newBuilder().setRevision(revision).build());
      }
      first.events.command(CommandEvent.newBuilder().setId(4).build());
      first.events.closed(new IllegalStateException("connection reset"));
      return until(vertx, () -> recorder.events.contains("up b"));
    }).onComplete(test.succeeding(v -> test.verify(() -> {
      assertEquals(List.of(1L, 2L, 3L), recorder.revisions, "each revision applied once, in order");
      FakeLink second = transport.opened.get(1);
      assertEquals(3, second.fromRevision, "resumed after the last applied revision");
      assertEquals(4, second.fromCommand, "resumed after the last applied command");
      assertTrue(transport.opened.get(0).closed, "the old link was closed");
      assertTrue(second.reports.get(0).getFullSnapshot(), "a full snapshot first after a reconnect");
      assertEquals(List.of("loaded", "up a", "down a", "up b"), recorder.events);
      test.completeNow();
    })));
  }

  @Test
  void aRefusalOfTheNodeEndsTheSessionWithoutRetrying(Vertx vertx, VertxTestContext test) {
    FakeTransport transport = new FakeTransport((n, server) -> new Refusal("WatchAssignments: UNAUTHENTICATED: revoked"));
    Recorder recorder = new Recorder();
    vertx.runOnContext(v -> session(vertx, transport, recorder, holding(new Node(7, "c1", "ca")),
        ResumeStore.inMemory()).start());
    until(vertx, () -> recorder.refusal != null)
        // Several backoffs' worth of time (5-20 ms each): a retrying session would have tried again.
        .compose(v -> Future.<Void>future(p -> vertx.setTimer(200, t -> p.complete())))
        .onComplete(test.succeeding(v -> test.verify(() -> {
          assertEquals(1, transport.attempts.size(), "no retry after a refusal");
          assertEquals(List.of("loaded", "refused"), recorder.events);
          assertTrue(recorder.refusal.getMessage().contains("UNAUTHENTICATED"));
          test.completeNow();
        })));
  }

  @Test
  void aRefusalMidSessionEndsItToo(Vertx vertx, VertxTestContext test) {
    FakeTransport transport = new FakeTransport((n, server) -> null);
    Recorder recorder = new Recorder();
    vertx.runOnContext(v -> session(vertx, transport, recorder, holding(new Node(7, "c1", "ca")),
        ResumeStore.inMemory()).start());
    until(vertx, () -> recorder.events.contains("up a")).compose(v -> {
      transport.opened.get(0).events.closed(new Refusal("ReportStatus: NOT_FOUND: node 7 is deregistered"));
      return Future.<Void>future(p -> vertx.setTimer(200, t -> p.complete()));
    }).onComplete(test.succeeding(v -> test.verify(() -> {
      assertEquals(1, transport.attempts.size(), "no reconnect after a refusal");
      assertEquals(List.of("loaded", "up a", "refused"), recorder.events);
      assertTrue(transport.opened.get(0).closed);
      test.completeNow();
    })));
  }

  @Test
  void intervalIsTtlMinusAClampedMargin() {
    assertEquals(7_500, TtlBounds.intervalMillis(10));
    assertEquals(25_000, TtlBounds.intervalMillis(30));
    assertEquals(595_000, TtlBounds.intervalMillis(600));
    assertEquals(60, BOUNDS.clamp(600), "a controller's TTL is capped by the worker's maximum");
    assertFalse(BOUNDS.clamp(0) < 1);
  }
}
