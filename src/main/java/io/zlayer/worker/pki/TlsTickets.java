package io.zlayer.worker.pki;

import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.OpenSslSessionStats;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.SSLEngineOptions;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;

/**
 * TLS session resumption on the controller's worker endpoint (TLS 1.3 stateless tickets): every
 * OpenSSL server context it builds holds the cluster's {@link TicketKeys}, so a worker that
 * reconnects, to this controller after a restart or to another one of the cluster, resumes its
 * session instead of paying a full handshake. A resumed session carries the client certificate of
 * its first handshake (it is inside the encrypted ticket), and the node gate still checks that
 * certificate on every call. With the JDK engine the JDK's own tickets apply: random keys per
 * process, so no resumption across a restart.
 */
public final class TlsTickets {
  private final TicketKeys keys;
  private final Clock clock;
  private final List<OpenSslSessionContext> contexts = new CopyOnWriteArrayList<>();
  private volatile long installedEpoch = Long.MIN_VALUE;

  public TlsTickets(TicketKeys keys, Clock clock) {
    this.keys = keys;
    this.clock = clock;
  }

  /** The tickets of the cluster whose worker CA is {@code ca}: the same on every controller that holds its key. */
  public static TlsTickets of(WorkerCa ca, Clock clock) {
    return new TlsTickets(new TicketKeys(ca.derivedSecret("tls session tickets")), clock);
  }

  /** Engine options for a TLS server: OpenSSL holding these keys when it is the engine in use, else the JDK's. */
  public SSLEngineOptions engineOptions() {
    return engineOptions(null);
  }

  /** The same, each server context passed through {@code wrap} (null: as built). */
  public SSLEngineOptions engineOptions(UnaryOperator<SslContext> wrap) {
    SSLEngineOptions preferred = TlsEngines.preferred();
    UnaryOperator<SslContext> then = wrap == null ? UnaryOperator.identity() : wrap;
    if (!(preferred instanceof OpenSSLEngineOptions)) {
      return wrap == null ? preferred : new JdkSslContextHook(build -> then.apply(build.create()));
    }
    return new SslContextHook(build -> {
      SslContext context = build.create();
      if (context.sessionContext() instanceof OpenSslSessionContext sessions) {
        install(sessions, TicketKeys.epoch(clock.instant()));
        contexts.add(sessions);
      }
      return then.apply(context);
    });
  }

  /** Installs the next epoch's keys once the clock has passed into it (call it periodically; cheap otherwise). */
  public void rotate() {
    long epoch = TicketKeys.epoch(clock.instant());
    if (epoch != installedEpoch) {
      for (OpenSslSessionContext c : contexts) {
        install(c, epoch);
      }
      installedEpoch = epoch;
    }
  }

  private void install(OpenSslSessionContext sessions, long epoch) {
    List<TicketKeys.Key> now = keys.at(clock.instant());
    OpenSslSessionTicketKey[] ticketKeys = now.stream()
        .map(k -> new OpenSslSessionTicketKey(k.name(), k.hmac(), k.aes()))
        .toArray(OpenSslSessionTicketKey[]::new);
    sessions.setTicketKeys(ticketKeys);
    sessions.setSessionTimeout((int) TicketKeys.TICKET_LIFETIME.toSeconds());
    installedEpoch = epoch;
  }

  /** Handshakes that resumed a session from a ticket, since this controller started (OpenSSL only, else 0). */
  public long resumed() {
    long n = 0;
    for (OpenSslSessionContext c : contexts) {
      OpenSslSessionStats stats = c.stats();
      n += stats.ticketKeyResume() + stats.ticketKeyRenew();
    }
    return n;
  }
}
