package io.zlayer.worker.agent.session;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.CommandResult;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life of one node's connection to the cluster, over either {@link Transport}: join (or the
 * loaded credentials), server rotation with {@link Backoff}, resume from the stored revision and
 * command id, the status reports of each link ({@link ReportLoop}: full snapshot first after each
 * (re)connect, then every {@code ttl - clamp(ttl/4, 1, 5)} s), certificate renewal, and the end of a node the controller
 * refuses for good. The agent and the simulator both run it. Not thread-safe: use it from the
 * one context it was started on.
 */
public final class Session {
  private static final Logger LOG = LoggerFactory.getLogger(Session.class);
  /**
   * Exit code of an agent whose identity the controller refused for good (revoked, deregistered,
   * collected): restarting cannot help, so systemd's {@code RestartPreventExitStatus} names it.
   */
  public static final int EXIT_REFUSED = 78;
  private static final Duration RENEW_RETRY = Duration.ofMinutes(5);
  private static final Duration DEREGISTER_TIMEOUT = Duration.ofSeconds(5);
  /**
   * After a controller said it is stopping ({@link ControllerLeaving}), failed connects are retried
   * in steps of about this (jittered like {@link Backoff}) rather than backed off, for
   * {@link #LEAVING_WINDOW}: a restarted controller gets its workers back as soon as it listens.
   */
  static final Duration LEAVING_STEP = Duration.ofMillis(250);
  static final Duration LEAVING_WINDOW = Duration.ofSeconds(60);

  /** What the session is built from; the agent and the simulator each supply their own. */
  public record Parts(Transport transport, Function<HostPort, Future<JoinTicket>> tickets,
                      Supplier<Future<KeyMaterial>> keys, Supplier<WorkerProfile> profile,
                      CredentialStore credentials, ResumeStore resume, Supplier<Future<StatusReport>> status,
                      SessionListener listener) {
  }

  private final Vertx vertx;
  private final SessionSettings settings;
  private final Parts parts;
  private final SessionListener listener;
  private final Backoff backoff;
  private final ReportLoop reports;
  private int nextServer;
  private int[] order;
  private Credentials credentials;
  private HostPort server;
  private Transport.Link link;
  private long epoch;
  private boolean up;
  private boolean running;
  private boolean stopped;
  private boolean holdsPermit;
  private long retryTimer = -1;
  private long connectTimer = -1;
  private long stableTimer = -1;
  private long renewTimer = -1;
  /** Until when (nanoTime) failed connects retry in {@link #LEAVING_STEP}s; 0 when no controller left. */
  private long leavingUntil;
  private int leavingRetries;

  public Session(Vertx vertx, SessionSettings settings, Parts parts, Backoff backoff) {
    this.vertx = vertx;
    this.settings = settings;
    this.parts = parts;
    this.listener = parts.listener();
    this.backoff = backoff;
    this.reports = new ReportLoop(vertx, settings, parts.status(), parts.listener());
  }

  public Credentials credentials() {
    return credentials;
  }

  public boolean up() {
    return up;
  }

  /** Joins, then keeps the node connected until {@link #stop} or a refusal. */
  public Future<Credentials> start() {
    return join().onSuccess(c -> run());
  }

  /**
   * The node's credentials: the stored ones, or a registration through the servers in turn (each
   * failure backed off) until one succeeds. The simulator calls it alone for its storm.
   */
  public Future<Credentials> join() {
    if (credentials != null) {
      return Future.succeededFuture(credentials);
    }
    return parts.credentials().load().compose(loaded -> {
      if (loaded.isPresent()) {
        credentials = loaded.get();
        listener.joined(credentials, false);
        return Future.succeededFuture(credentials);
      }
      Promise<Credentials> joined = Promise.promise();
      register(joined);
      return joined.future();
    });
  }

  private void register(Promise<Credentials> joined) {
    retryTimer = -1;
    if (stopped) {
      joined.tryFail("session stopped");
      return;
    }
    HostPort target = nextServer();
    parts.tickets().apply(target)
        .compose(ticket -> stopped ? stoppedWhileWaiting(ticket) : parts.keys().get()
            .compose(keys -> parts.transport().register(target, ticket, keys, parts.profile().get()))
            .andThen(ar -> ticket.release().run()))
        .compose(c -> parts.credentials().save(c).compose(v -> parts.resume().reset()).map(c))
        .onSuccess(c -> {
          credentials = c;
          nextServer--; // connect to the server that registered the node
          listener.joined(c, true);
          joined.tryComplete(c);
        })
        .onFailure(e -> {
          if (stopped) {
            joined.tryFail(e);
            return;
          }
          listener.failed(target, e, true);
          retryLater(target, describe(e), () -> register(joined));
        });
  }

  /** A ticket that came after {@link #stop}: handed back unused. */
  private static Future<Credentials> stoppedWhileWaiting(JoinTicket ticket) {
    ticket.release().run();
    return Future.failedFuture("session stopped");
  }

  /** Connects with the credentials {@link #join} produced, and reconnects until stopped. */
  public void run() {
    if (running || stopped || credentials == null) {
      return;
    }
    running = true;
    connect();
  }

  private void connect() {
    retryTimer = -1;
    if (stopped) {
      return;
    }
    settings.connectThrottle().acquire().onComplete(permit -> {
      holdsPermit = true;
      if (stopped) {
        releasePermit();
        return;
      }
      HostPort target = nextServer();
      long e = ++epoch;
      server = target;
      connectTimer = vertx.setTimer(settings.connectTimeout().toMillis(), t -> linkFailed(e,
          new TimeoutException("session not up after " + settings.connectTimeout().toMillis() + " ms")));
      parts.transport().open(target, credentials, parts.resume().lastRevision(), parts.resume().lastCommandId(),
              events(e))
          .onSuccess(opened -> {
            if (e != epoch || stopped) {
              opened.close();
              return;
            }
            link = opened;
            reports.start(opened, credentials.nodeId(), err -> linkFailed(e, err));
          })
          .onFailure(err -> linkFailed(e, err));
    });
  }

  private Transport.Events events(long e) {
    return new Transport.Events() {
      @Override
      public void assignment(AssignmentEvent event) {
        if (e == epoch) {
          applyAssignment(event);
        }
      }

      @Override
      public void command(CommandEvent command) {
        if (e == epoch) {
          applyCommand(command);
        }
      }

      @Override
      public void ack(int ttl) {
        if (e == epoch) {
          acked(e, ttl);
        }
      }

      @Override
      public void closed(Throwable cause) {
        linkFailed(e, cause);
      }
    };
  }

  private void acked(long e, int ttl) {
    listener.acked();
    if (!up) {
      up = true;
      leavingUntil = 0;
      vertx.cancelTimer(connectTimer);
      releasePermit();
      if (settings.logEvents()) {
        LOG.info("session up: node {} with controller {}", credentials.nodeId(), server);
      }
      listener.up(credentials, server, e);
      stableTimer = vertx.setTimer(settings.stableAfter().toMillis(), t -> backoff.reset());
      scheduleRenewal();
    }
    reports.acked(ttl);
  }

  private void applyAssignment(AssignmentEvent event) {
    if (event.getRevision() <= parts.resume().lastRevision()) {
      return; // already applied: at-least-once delivery, exactly-once application
    }
    listener.assignment(event);
    parts.resume().revisionApplied(event.getRevision());
  }

  private void applyCommand(CommandEvent command) {
    if (command.getId() <= parts.resume().lastCommandId()) {
      return;
    }
    CommandResult result = listener.command(command);
    parts.resume().commandApplied(command.getId()).onComplete(v -> {
      reports.commandResult(result);
      listener.commandApplied(command);
    });
  }

  /** Ends the current link; a refusal ends the session, anything else is retried on the next server. */
  private void linkFailed(long e, Throwable cause) {
    if (e != epoch || stopped) {
      return;
    }
    epoch++; // everything of the old link is now stale
    boolean was = up;
    dropLink();
    if (cause instanceof Refusal refusal) {
      stopped = true;
      vertx.cancelTimer(renewTimer);
      listener.refused(credentials, refusal);
      return;
    }
    if (was) {
      listener.down(credentials, server, describe(cause), e);
    } else {
      listener.failed(server, cause, false);
    }
    if (cause instanceof ControllerLeaving) {
      if (was || leavingUntil == 0) {
        leavingUntil = System.nanoTime() + LEAVING_WINDOW.toNanos();
        leavingRetries = 0;
      }
      if (was) {
        // The controller said goodbye: on to the next one at once, no backoff.
        if (settings.logEvents()) {
          LOG.info("controller {} is shutting down; moving to {} now", server, peekServer());
        }
        retryTimer = vertx.setTimer(1, t -> connect());
        return;
      }
    }
    retryLater(server, (was ? "session lost: " : "") + describe(cause), this::connect);
  }

  private Future<Void> dropLink() {
    up = false;
    reports.stop();
    vertx.cancelTimer(connectTimer);
    vertx.cancelTimer(stableTimer);
    releasePermit();
    Transport.Link old = link;
    link = null;
    return old == null ? Future.succeededFuture() : old.close();
  }

  private void releasePermit() {
    if (holdsPermit) {
      holdsPermit = false;
      settings.connectThrottle().release();
    }
  }

  private void retryLater(HostPort failed, String cause, Runnable next) {
    if (stopped) {
      return;
    }
    boolean leaving = leavingUntil != 0 && System.nanoTime() - leavingUntil < 0;
    Duration delay = leaving ? leavingStep() : backoff.next();
    // In short steps, one line every ~5 s is enough.
    if (settings.logEvents() && (!leaving || leavingRetries++ % 20 == 0)) {
      LOG.warn("controller {}: {}; trying {} in {} ms", failed, cause, peekServer(), delay.toMillis());
    }
    retryTimer = vertx.setTimer(delay.toMillis(), t -> next.run());
  }

  private static Duration leavingStep() {
    double jitter = Backoff.JITTER_MIN + (Backoff.JITTER_MAX - Backoff.JITTER_MIN)
        * java.util.concurrent.ThreadLocalRandom.current().nextDouble();
    return Duration.ofMillis(Math.round(LEAVING_STEP.toMillis() * jitter));
  }

  private HostPort nextServer() {
    HostPort next = peekServer();
    nextServer++;
    return next;
  }

  private HostPort peekServer() {
    List<HostPort> servers = settings.servers();
    if (order == null || order.length != servers.size()) {
      order = failoverOrder(servers.size(), settings.firstServer());
    }
    return servers.get(order[Math.floorMod(nextServer, order.length)]);
  }

  /**
   * The order this worker tries its servers in: its first server, then the others shuffled. A
   * fleet that lost one controller spreads over the remaining ones instead of every worker moving
   * to the next in the list, which then held twice its share (and, at a full controller, ran out
   * of descriptors: the 50,000-worker run's kill -9 sent all 12,508 of one controller's workers to
   * the same neighbour).
   */
  static int[] failoverOrder(int n, int first) {
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = Math.floorMod(first + i, n);
    }
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    for (int i = n - 1; i > 1; i--) {
      int j = 1 + random.nextInt(i);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  // ---- status reports ----

  /** Asks for a report soon: bursts within the debounce window go out as one. */
  public void reportNow() {
    if (up) {
      reports.reportNow();
    }
  }

  /** Applies a changed forced interval now (the simulator's ingest phase). */
  public void reschedule() {
    if (up) {
      reports.reschedule();
    }
  }

  // ---- certificate renewal ----

  /** When to renew a certificate: at two thirds of its lifetime (kubelet rotates at 70-90 %). */
  public static Instant renewAt(X509Certificate cert) {
    long from = cert.getNotBefore().getTime();
    long to = cert.getNotAfter().getTime();
    return Instant.ofEpochMilli(from + (to - from) * 2 / 3);
  }

  private void scheduleRenewal() {
    if (!settings.renewCertificates() || !(credentials instanceof Identity id)) {
      return;
    }
    vertx.cancelTimer(renewTimer);
    long delay = Math.max(1, renewAt(id.certificate()).toEpochMilli() - System.currentTimeMillis());
    renewTimer = vertx.setTimer(delay, t -> renew().onFailure(e -> {
      LOG.warn("node {}: certificate renewal failed: {}; retrying in {} s", id.nodeId(), describe(e),
          RENEW_RETRY.toSeconds());
      renewTimer = vertx.setTimer(RENEW_RETRY.toMillis(), x -> scheduleRenewal());
    }));
  }

  /**
   * Rotates the node certificate over the current link: new key and CSR, the new credentials
   * stored, then the session reconnects to the same server with them. The controller keeps
   * accepting the previous certificate until it expires, so a crash in between is harmless.
   */
  public Future<Credentials> renew() {
    Transport.Link current = link;
    Credentials held = credentials;
    if (!up || current == null) {
      return Future.failedFuture("no session is up");
    }
    return parts.keys().get()
        .compose(keys -> current.renew(held, keys))
        .compose(next -> parts.credentials().save(next).map(next))
        .onSuccess(next -> {
          credentials = next;
          LOG.info("node {} renewed its certificate; reconnecting with it", next.nodeId());
          if (up && link == current) {
            long e = epoch++;
            dropLink();
            listener.down(held, server, "certificate renewed", e);
            nextServer--; // the same server, with the new certificate
            connect();
          }
        });
  }

  // ---- leaving and stopping ----

  /**
   * Deregisters (when up) and forgets the credentials; completes with whether the controller
   * confirmed. The session stops either way.
   */
  public Future<Boolean> leave(String reason) {
    Transport.Link current = link;
    Credentials held = credentials;
    stopped = true;
    vertx.cancelTimer(retryTimer);
    if (!up || current == null) {
      LOG.info("stopping without deregistering: no session is up");
      return Future.succeededFuture(false);
    }
    return current.deregister(held.nodeId(), reason)
        .timeout(DEREGISTER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .compose(v -> parts.credentials().forget())
        .map(v -> {
          LOG.info("node {} deregistered ({}); joining again needs a new bootstrap token", held.nodeId(), reason);
          return true;
        })
        .otherwise(e -> {
          LOG.warn("could not deregister node {}: {}", held.nodeId(), describe(e));
          return false;
        });
  }

  /** Stops without deregistering (the node stays registered, as after a kill). */
  public Future<Void> stop() {
    stopped = true;
    epoch++;
    for (long timer : new long[] {retryTimer, renewTimer}) {
      vertx.cancelTimer(timer);
    }
    return dropLink();
  }

  public static String describe(Throwable e) {
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }
}
