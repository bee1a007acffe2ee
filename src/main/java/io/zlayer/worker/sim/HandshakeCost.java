package io.zlayer.worker.sim;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.TrustOptions;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.TlsSessions;
import io.zlayer.worker.pki.Fingerprints;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.TlsEngines;
import io.zlayer.worker.pki.TlsTickets;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.pki.WorkerCertificateTrust;
import io.zlayer.worker.pki.WorkerKeys;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;

/**
 * What a worker's TLS handshake costs the controller, full (ECDHE, the controller's ECDSA
 * signature, the worker certificate's ECDSA check) against resumed from a ticket (ECDHE only):
 * the controller's and the worker's TLS contexts exactly as the endpoint and the worker build them
 * (OpenSSL, ticket keys from the CA, the worker's kept sessions), engines wired in memory on one
 * thread, and the CPU time of the server engine's calls counted apart. Prints CPU ms per handshake
 * and handshakes/s on one core for each, and their ratio; with {@code --json}, a JSON object too.
 * Usage: {@code HandshakeCost [seconds per mode=3] [--json]}.
 */
public final class HandshakeCost {
  private static final Duration WARMUP = Duration.ofSeconds(2);
  private static final int MAX_ROUNDS = 64;
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  /** Server CPU ns, client CPU ns, handshakes, resumed handshakes of one run. */
  record Run(long serverNanos, long clientNanos, long handshakes, long resumed) {
    double serverMs() {
      return serverNanos / 1e6 / handshakes;
    }

    double clientMs() {
      return clientNanos / 1e6 / handshakes;
    }

    double perCoreSecond() {
      return 1e9 * handshakes / serverNanos;
    }
  }

  public static void main(String[] args) throws Exception {
    double seconds = args.length > 0 && !args[0].startsWith("-") ? Double.parseDouble(args[0]) : 3;
    boolean json = List.of(args).contains("--json");
    if (!"OpenSSL".equals(TlsEngines.describe(TlsEngines.preferred()))) {
      System.err.println("the OpenSSL engine is not available here: no ticket keys, nothing to measure");
      System.exit(1);
    }
    Path dir = Files.createTempDirectory("zlayer-handshake-cost");
    Vertx vertx = Vertx.vertx();
    try {
      WorkerCa ca = WorkerCa.loadOrCreate(dir.resolve("ca"), "chandshake000001");
      Contexts contexts = Contexts.build((VertxInternal) vertx, ca);
      Duration each = Duration.ofMillis((long) (seconds * 1000));
      run(contexts, false, WARMUP);
      Run full = run(contexts, false, each);
      run(contexts, true, WARMUP);
      Run resumed = run(contexts, true, each);
      print(full, "full   ");
      print(resumed, "resumed");
      System.out.printf(Locale.ROOT, "resumed/full: %.2fx the handshakes per core (%d of %d resumed)%n",
          resumed.perCoreSecond() / full.perCoreSecond(), resumed.resumed(), resumed.handshakes());
      if (json) {
        System.out.printf(Locale.ROOT, "{\"full_server_cpu_ms\":%.3f,\"full_per_core_per_sec\":%.0f,"
                + "\"resumed_server_cpu_ms\":%.3f,\"resumed_per_core_per_sec\":%.0f,\"resumed_fraction\":%.3f}%n",
            full.serverMs(), full.perCoreSecond(), resumed.serverMs(), resumed.perCoreSecond(),
            (double) resumed.resumed() / resumed.handshakes());
      }
    } finally {
      vertx.close().await();
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static void print(Run r, String name) {
    System.out.printf(Locale.ROOT, "%s handshake: controller %.3f CPU ms (%.0f/s on one core), worker %.3f CPU ms; %d handshakes%n",
        name, r.serverMs(), r.perCoreSecond(), r.clientMs(), r.handshakes());
  }

  /** The controller's server context and one worker's client context, as the product builds them. */
  record Contexts(SslContext server, SslContext client) {
    static Contexts build(VertxInternal vertx, WorkerCa ca) throws Exception {
      ServerIdentity serverId = ca.issueServerIdentity(List.of());
      KeyPair keys = WorkerKeys.generateP256();
      var cert = ca.issueWorkerCertificate(keys.getPublic(), 1, Duration.ofDays(1));
      Identity node = Identity.of(Pem.encode(Pem.CERTIFICATE, cert.der()), Pem.privateKeyToPem(keys.getPrivate()),
          ca.certificatePem());
      SslContext server = new TlsTickets(new io.zlayer.worker.pki.TicketKeys(ca.derivedSecret("bench")),
          Clock.systemUTC()).engineOptions().sslContextFactory()
          .forClient(false).useAlpn(true).applicationProtocols(List.of("h2"))
          .clientAuth(ClientAuth.OPTIONAL)
          .keyMananagerFactory(new PemKeyCertOptions().setKeyValue(Buffer.buffer(serverId.keyPem()))
              .setCertValue(Buffer.buffer(serverId.certChainPem())).getKeyManagerFactory(vertx))
          .trustManagerFactory(TrustOptions.wrap(new WorkerCertificateTrust(ca, Set.of(Fingerprints.sha256Hex(cert.der()))::contains))
              .getTrustManagerFactory(vertx))
          .create();
      SslContext client = new TlsSessions().engineOptions(node).sslContextFactory()
          .forClient(true).useAlpn(true).applicationProtocols(List.of("h2"))
          .keyMananagerFactory(new PemKeyCertOptions().setKeyValue(Buffer.buffer(node.keyPem()))
              .setCertValue(Buffer.buffer(node.certPem())).getKeyManagerFactory(vertx))
          .trustManagerFactory(new PemTrustOptions().addCertValue(Buffer.buffer(ca.certificatePem()))
              .getTrustManagerFactory(vertx))
          .create();
      return new Contexts(server, client);
    }
  }

  private static Run run(Contexts contexts, boolean resume, Duration duration) throws SSLException {
    long end = System.nanoTime() + duration.toNanos();
    long[] cpu = new long[2];
    long handshakes = 0;
    OpenSslSessionContext sessions = (OpenSslSessionContext) contexts.server().sessionContext();
    long resumedBefore = sessions.stats().ticketKeyResume() + sessions.stats().ticketKeyRenew();
    while (System.nanoTime() < end) {
      // Without a peer the client engine neither offers nor keeps a session: a full handshake.
      SSLEngine client = resume ? contexts.client().newEngine(ByteBufAllocator.DEFAULT, "controller", 3670)
          : contexts.client().newEngine(ByteBufAllocator.DEFAULT);
      SSLEngine server = contexts.server().newEngine(ByteBufAllocator.DEFAULT);
      client.setUseClientMode(true);
      javax.net.ssl.SSLParameters params = client.getSSLParameters();
      params.setEndpointIdentificationAlgorithm(""); // as the worker: the CA is the trust anchor, not a name
      client.setSSLParameters(params);
      server.setUseClientMode(false);
      try {
        handshake(client, server, cpu);
        handshakes++;
      } finally {
        release(client);
        release(server);
      }
    }
    long resumed = sessions.stats().ticketKeyResume() + sessions.stats().ticketKeyRenew() - resumedBefore;
    return new Run(cpu[1], cpu[0], handshakes, resumed);
  }

  private static void release(SSLEngine engine) {
    if (engine instanceof io.netty.util.ReferenceCounted counted) {
      counted.release();
    }
  }

  /** Drives both engines until the handshake is done and the client has read the server's tickets. */
  private static void handshake(SSLEngine client, SSLEngine server, long[] cpu) throws SSLException {
    int size = Math.max(client.getSession().getPacketBufferSize(), server.getSession().getPacketBufferSize());
    ByteBuffer toServer = ByteBuffer.allocate(size);
    ByteBuffer toClient = ByteBuffer.allocate(size);
    ByteBuffer app = ByteBuffer.allocate(size);
    ByteBuffer empty = ByteBuffer.allocate(0);
    ByteBuffer ping = ByteBuffer.allocate(1);
    client.beginHandshake();
    server.beginHandshake();
    boolean pingRead = false;
    for (int round = 0; round < MAX_ROUNDS && !pingRead; round++) {
      long t0 = CPU.getCurrentThreadCpuTime();
      client.wrap(empty, toServer);
      tasks(client);
      toServer.flip();
      long t1 = CPU.getCurrentThreadCpuTime();
      server.unwrap(toServer, app);
      tasks(server);
      toServer.compact();
      boolean done = !handshaking(server);
      if (done && ping.hasRemaining()) {
        server.wrap(ping, toClient); // after the tickets: once the client reads it, it has them
      } else {
        server.wrap(empty, toClient);
      }
      tasks(server);
      toClient.flip();
      long t2 = CPU.getCurrentThreadCpuTime();
      app.clear();
      client.unwrap(toClient, app);
      while (toClient.hasRemaining() && client.unwrap(toClient, app).bytesConsumed() > 0) {
        // drain every record the server wrote this round
      }
      tasks(client);
      toClient.compact();
      long t3 = CPU.getCurrentThreadCpuTime();
      cpu[0] += (t1 - t0) + (t3 - t2);
      cpu[1] += t2 - t1;
      pingRead = !ping.hasRemaining() && app.position() > 0;
    }
    if (!pingRead) {
      throw new SSLException("handshake did not complete in " + MAX_ROUNDS + " rounds");
    }
  }

  private static boolean handshaking(SSLEngine engine) {
    HandshakeStatus s = engine.getHandshakeStatus();
    return s != HandshakeStatus.NOT_HANDSHAKING && s != HandshakeStatus.FINISHED;
  }

  private static void tasks(SSLEngine engine) {
    for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) {
      task.run();
    }
  }
}
