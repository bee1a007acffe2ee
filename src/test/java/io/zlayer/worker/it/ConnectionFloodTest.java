package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, the abuse suite: a connection flood against the worker port with short timeouts.
 * Plain TCP connections that never start TLS, TLS connections that finish the handshake and then
 * say nothing, and connections that stall in the middle of the handshake: all are closed by the
 * controller within its timeouts, while a real worker registers and is sent an assignment and
 * {@code /healthz} keeps answering; descriptors and heap come back.
 */
@ExtendWith(VertxExtension.class)
class ConnectionFloodTest {
  private static final long TIMEOUT_MS = 2_000;
  /** Beyond the timeout: the idle sweep runs every timeout/4, and the box is shared. */
  private static final long SLACK_MS = 4_000;
  private static final int TCP = Integer.getInteger("zlayer.abuse.floodTcp", 2_000);
  private static final int TLS = Integer.getInteger("zlayer.abuse.floodTls", 500);
  private static final int STALLED = Integer.getInteger("zlayer.abuse.floodStalled", 500);
  private static final int BATCH = 250;

  @TempDir
  Path dir;
  private ControllerNode controller;
  private EventLoopGroup group;
  private HealthProbe probe;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()
        .put("connection_idle_timeout", TIMEOUT_MS + "ms").put("tls_handshake_timeout", TIMEOUT_MS + "ms")));
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() throws Exception {
    if (probe != null) {
      await(probe.stop());
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    await(controller.stop());
  }

  /** One flood socket: when it was opened (connected, or handshaken for TLS) and when the controller closed it. */
  private static final class Sock {
    final String kind;
    volatile long openedNanos;
    final CompletableFuture<Long> lifetimeMs = new CompletableFuture<>();

    Sock(String kind) {
      this.kind = kind;
    }
  }

  private static long openFds() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }

  @Test
  void floodSocketsAreClosedWhileAWorkerIsServed(Vertx vertx) throws Exception {
    SslContext tls = tls(ApplicationProtocolNames.HTTP_1_1);
    int port = controller.port();
    long heapBefore = Http2FrameAbuseTest.usedHeap();
    long fdsBefore = openFds();
    probe = HealthProbe.start(vertx, port);
    List<Sock> socks = new ArrayList<>();
    AtomicInteger open = new AtomicInteger();
    AtomicLong peakOpen = new AtomicLong();
    long t0 = System.nanoTime();
    try (LoopLag lag = LoopLag.start(vertx)) {
      CompletableFuture<String> worker = null;
      int[] counts = {TCP, STALLED, TLS};
      String[] kinds = {"tcp", "stalled", "tls-h1"};
      for (int k = 0; k < kinds.length; k++) {
        String kind = kinds[k];
        for (int done = 0; done < counts[k]; done += BATCH) {
          List<CompletableFuture<?>> batch = new ArrayList<>();
          for (int i = done; i < Math.min(counts[k], done + BATCH); i++) {
            Sock sock = new Sock(kind);
            socks.add(sock);
            batch.add(open(sock, port, kind.startsWith("tls") ? tls : null, kind.equals("stalled"), open, peakOpen));
          }
          CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }
        if (worker == null) {
          // The worker starts registering once the plain TCP flood is open, on a thread of its own (RawWorker blocks).
          worker = CompletableFuture.supplyAsync(() -> {
            try {
              return serveWorker(vertx, open);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
        }
      }
      long openedMs = (System.nanoTime() - t0) / 1_000_000;
      long fdsDuring = openFds();
      long heapDuring = lag.excluding(Http2FrameAbuseTest::usedHeap);
      String served = worker.get(30, TimeUnit.SECONDS);
      CompletableFuture.allOf(socks.stream().map(s -> s.lifetimeMs).toArray(CompletableFuture[]::new))
          .get(TIMEOUT_MS + SLACK_MS + openedMs, TimeUnit.MILLISECONDS);
      long allClosedMs = (System.nanoTime() - t0) / 1_000_000;
      HealthProbe.Figures health = probe.figures();
      long healthzAfter = await(probe.once());
      long heapAfter = lag.excluding(Http2FrameAbuseTest::usedHeap);
      long fdsAfter = openFds();
      String lifetimes = String.join(", ", kinds(socks, kinds));
      System.out.printf("abuse connection-flood: %,d plain TCP + %,d stalled mid-handshake + %,d silent after TLS, opened in %,d ms"
          + " (peak %,d open), timeouts %d ms; closed by the controller after %s; all closed %,d ms after the start; %s;"
          + " /healthz during: %d answered, 5xx %d, failed %d, slowest %d ms, after %d ms; descriptors %d -> %d -> %d;"
          + " heap %d -> %d -> %d MiB; %s%n", TCP, STALLED, TLS, openedMs, peakOpen.get(), TIMEOUT_MS, lifetimes, allClosedMs,
          served, health.answered(), health.fivexx(), health.failed(), health.slowestMs(), healthzAfter, fdsBefore, fdsDuring,
          fdsAfter, heapBefore >> 20, heapDuring >> 20, heapAfter >> 20, lag.figure());
      for (Sock s : socks) {
        long life = s.lifetimeMs.getNow(-1L);
        assertTrue(life <= TIMEOUT_MS + SLACK_MS, s.kind + " socket closed after " + life + " ms");
      }
      assertEquals(0, health.fivexx() + health.failed(), "/healthz during the flood: " + health);
      assertTrue(healthzAfter <= 1_000, "/healthz after: " + healthzAfter + " ms");
      assertTrue(fdsAfter - fdsBefore < 100, "descriptors " + fdsBefore + " -> " + fdsAfter);
      assertTrue((heapAfter - heapBefore) >> 20 < 64, "heap grew " + ((heapAfter - heapBefore) >> 20) + " MiB");
      assertTrue(lag.withinBound(), lag.figure());
    }
  }

  private static SslContext tls(String alpn) throws Exception {
    return SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
        .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, alpn))
        .build();
  }

  /**
   * TLS peers that negotiate {@code h2} and then send nothing, not even the connection preface:
   * Vert.x announces an HTTP/2 connection (and so {@code IdleConnections} learns of it) only
   * when the client's first SETTINGS arrives.
   */
  @Test
  void silentHttp2PeersAreClosed(Vertx vertx) throws Exception {
    SslContext tls = tls(ApplicationProtocolNames.HTTP_2);
    long fdsBefore = openFds();
    List<Sock> socks = new ArrayList<>();
    AtomicInteger open = new AtomicInteger();
    AtomicLong peakOpen = new AtomicLong();
    int count = Integer.getInteger("zlayer.abuse.floodH2", 200);
    List<CompletableFuture<?>> opened = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      Sock sock = new Sock("tls-h2");
      socks.add(sock);
      opened.add(open(sock, controller.port(), tls, false, open, peakOpen));
    }
    CompletableFuture.allOf(opened.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    long fdsDuring = openFds();
    long t0 = System.nanoTime();
    boolean allClosed;
    try {
      CompletableFuture.allOf(socks.stream().map(s -> s.lifetimeMs).toArray(CompletableFuture[]::new))
          .get(TIMEOUT_MS + SLACK_MS, TimeUnit.MILLISECONDS);
      allClosed = true;
    } catch (java.util.concurrent.TimeoutException e) {
      allClosed = false;
    }
    long closed = socks.stream().filter(s -> s.lifetimeMs.isDone()).count();
    System.out.printf("abuse connection-flood-h2: %,d TLS peers negotiating h2 and sending nothing (not even the preface),"
        + " timeouts %d ms; %,d closed by the controller within %,d ms (%s); descriptors %d -> %d -> %d%n", count, TIMEOUT_MS,
        closed, TIMEOUT_MS + SLACK_MS, String.join(", ", kinds(socks, new String[] {"tls-h2"})), fdsBefore, fdsDuring,
        openFds());
    assertTrue(allClosed, (count - closed) + " of " + count + " silent h2 peers still open after "
        + (System.nanoTime() - t0) / 1_000_000 + " ms");
  }

  /** Min/max lifetime per kind. */
  private static List<String> kinds(List<Sock> socks, String[] kinds) {
    List<String> out = new ArrayList<>();
    for (String kind : kinds) {
      var stats = socks.stream().filter(s -> s.kind.equals(kind)).mapToLong(s -> s.lifetimeMs.getNow(-1L)).summaryStatistics();
      out.add(String.format("%s %,d-%,d ms", kind, stats.getMin(), stats.getMax()));
    }
    return out;
  }

  /** Opens one flood socket; completes when it is open (TLS: handshake done; stalled: the partial ClientHello written). */
  private CompletableFuture<Void> open(Sock sock, int port, SslContext tls, boolean stall, AtomicInteger open,
      AtomicLong peakOpen) {
    CompletableFuture<Void> opened = new CompletableFuture<>();
    ChannelFuture connect = new Bootstrap().group(group).channel(NioSocketChannel.class).handler(new ChannelInitializer<Channel>() {
      @Override
      protected void initChannel(Channel ch) {
        if (tls != null) {
          ch.pipeline().addLast(tls.newHandler(ch.alloc(), "127.0.0.1", port));
        }
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg); // the server's SETTINGS: read, never answered
          }

          @Override
          public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
          }
        });
      }
    }).connect("127.0.0.1", port);
    connect.addListener(f -> {
      if (!f.isSuccess()) {
        opened.completeExceptionally(f.cause());
        sock.lifetimeMs.complete(-1L);
        return;
      }
      Channel ch = connect.channel();
      open.incrementAndGet();
      peakOpen.accumulateAndGet(open.get(), Math::max);
      ch.closeFuture().addListener(c -> {
        open.decrementAndGet();
        sock.lifetimeMs.complete((System.nanoTime() - sock.openedNanos) / 1_000_000);
      });
      if (tls != null) {
        ch.pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
          sock.openedNanos = System.nanoTime();
          if (h.isSuccess()) {
            opened.complete(null);
          } else {
            opened.completeExceptionally(h.cause());
          }
        });
      } else {
        sock.openedNanos = System.nanoTime();
        if (stall) {
          // A TLS record header announcing a 512-byte ClientHello, and 11 bytes of it: the handshake never completes.
          ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc,
              0x03, 0x03, 1, 2, 3, 4, 5, 6}));
        }
        opened.complete(null);
      }
    });
    return opened;
  }

  /** A real worker: registers, watches, is sent an assignment; says how many flood sockets were open meanwhile. */
  private String serveWorker(Vertx vertx, AtomicInteger open) throws Exception {
    long t0 = System.nanoTime();
    Identity identity = RawWorker.register(vertx, controller);
    long registeredMs = (System.nanoTime() - t0) / 1_000_000;
    int openAtRegister = open.get();
    ClusterControlPlaneGrpcClient stub = TestCluster.stub(vertx, controller, identity);
    Promise<AssignmentEvent> first = Promise.promise();
    var stream = await(stub.watchAssignments(WatchAssignmentsRequest.newBuilder().setNodeId(identity.nodeId()).build()));
    stream.handler(first::tryComplete);
    stream.exceptionHandler(first::tryFail);
    await(controller.controlPlane().assignments().append(identity.nodeId(),
        Events.set("svc", new JsonArray().add(new JsonObject().put("role", "default").put("indices", new JsonArray().add(0))),
            new JsonObject().put("command", "true"))));
    String service = await(first.future(), Duration.ofSeconds(20)).getSet().getService();
    long assignedMs = (System.nanoTime() - t0) / 1_000_000;
    if (!service.equals("svc")) {
      throw new IllegalStateException("assignment " + service);
    }
    return String.format("a worker registered in %,d ms (%,d flood sockets open) and got its assignment at %,d ms (%,d open)",
        registeredMs, openAtRegister, assignedMs, open.get());
  }
}
