package io.zlayer.worker.sim;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.zlayer.worker.agent.CaPin;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.TlsEngines;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;
import io.zlayer.worker.proto.WorkerResourceUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * A heartbeat load generator that offers more than a server absorbs: registered nodes (mTLS, their
 * own certificates) each hold one {@code ReportStatus} stream on a connection of their own and
 * keep up to {@code --window} reports unacknowledged on it, written as pre-encoded gRPC frames
 * (length-prefixed protobuf, {@code --batch} to a write); acks are counted from the frame headers,
 * never decoded. It drives the controller, then the bare echo server ({@link BareIngestServer}),
 * with the same identities and frames, and prints each one's absorbed rate (acks/s) and the ratio.
 * With {@code --controller-pid}/{@code --bare-pid} it also prints each server's CPU over its window.
 */
public final class IngestLoad {
  static final String REPORT_STATUS = "/zlayer.cluster.v1.ClusterControlPlane/ReportStatus";
  private static final int REGISTER_CONCURRENCY = 32;
  private static final int OPEN_WAVE = 25;
  /** Warm-up of a leg after the first: the JITs are warm, the connections new. */
  private static final Duration REWARM = Duration.ofSeconds(2);

  record Options(HostPort controller, HostPort bare, String token, int nodes, int window, int batch,
                 Duration warmup, Duration measure, int rounds, long controllerPid, long barePid, boolean json) {
    static Options parse(String[] args) {
      HostPort controller = null;
      HostPort bare = null;
      String token = null;
      int nodes = 200;
      int window = 512;
      int batch = 32;
      double warmup = 5;
      double measure = 10;
      int rounds = 2;
      long controllerPid = 0;
      long barePid = 0;
      boolean json = false;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--controller" -> controller = HostPort.parse("--controller", args[++i]);
          case "--bare" -> bare = HostPort.parse("--bare", args[++i]);
          case "--token" -> token = args[++i];
          case "--nodes" -> nodes = Integer.parseInt(args[++i]);
          case "--window" -> window = Integer.parseInt(args[++i]);
          case "--batch" -> batch = Integer.parseInt(args[++i]);
          case "--warmup" -> warmup = Double.parseDouble(args[++i]);
          case "--seconds" -> measure = Double.parseDouble(args[++i]);
          case "--rounds" -> rounds = Integer.parseInt(args[++i]);
          case "--controller-pid" -> controllerPid = Long.parseLong(args[++i]);
          case "--bare-pid" -> barePid = Long.parseLong(args[++i]);
          case "--json" -> json = true;
          default -> throw new IllegalArgumentException("unknown option " + a);
        }
      }
      if (controller == null || token == null) {
        throw new IllegalArgumentException("usage: IngestLoad --controller HOST:PORT --token TOKEN [--bare HOST:PORT] "
            + "[--nodes 200] [--window 512] [--batch 32] [--warmup 5] [--seconds 10] [--rounds 2] [--controller-pid P] [--bare-pid P] [--json]");
      }
      if (nodes < 1 || batch < 1 || window < batch) {
        throw new IllegalArgumentException("--nodes >= 1, --batch >= 1 and --window >= --batch");
      }
      return new Options(controller, bare, token, nodes, window, batch, Duration.ofMillis((long) (warmup * 1000)),
          Duration.ofMillis((long) (measure * 1000)), Math.max(1, rounds), controllerPid, barePid, json);
    }
  }

  /** What one target absorbed over the measured window. */
  record Rate(String target, double absorbedPerSec, double offeredPerSec, double cpuCores, long refusedStreams) {
    double perCpuSecond() {
      return cpuCores > 0 ? absorbedPerSec / cpuCores : Double.NaN;
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(Runtime.getRuntime().availableProcessors()));
    try {
      BootstrapToken token = BootstrapToken.decode(o.token());
      String caPem = CaPin.discover(vertx, o.controller(), token.caSha256()).await(30, TimeUnit.SECONDS);
      long t0 = System.nanoTime();
      List<Identity> nodes = register(vertx, o.controller(), caPem, o.token(), o.nodes());
      System.out.printf(Locale.ROOT, "ingest: %d nodes registered in %.1f s; %d reports in flight per stream, %d per write%n",
          nodes.size(), (System.nanoTime() - t0) / 1e9, o.window(), o.batch());
      // Legs alternate (controller, bare, controller, ...) so that a change in the box's load hits both;
      // each target's best leg counts (the box is shared: a slow leg measured the neighbours).
      List<Rate> rates = new ArrayList<>();
      Rate bestController = null;
      Rate bestBare = null;
      for (int round = 0; round < o.rounds(); round++) {
        Duration warmup = round == 0 ? o.warmup() : REWARM;
        Rate c = drive(vertx, "controller", o.controller(), caPem, nodes, o, o.controllerPid(), warmup);
        print(c, round);
        bestController = bestController == null || c.absorbedPerSec() > bestController.absorbedPerSec() ? c : bestController;
        if (o.bare() != null) {
          Rate b = drive(vertx, "bare", o.bare(), caPem, nodes, o, o.barePid(), warmup);
          print(b, round);
          bestBare = bestBare == null || b.absorbedPerSec() > bestBare.absorbedPerSec() ? b : bestBare;
        }
      }
      rates.add(bestController);
      if (bestBare != null) {
        rates.add(bestBare);
      }
      System.out.println("best leg of each:");
      for (Rate r : rates) {
        print(r, -1);
      }
      if (rates.size() == 2) {
        Rate c = rates.get(0);
        Rate b = rates.get(1);
        double ratio = c.absorbedPerSec() / b.absorbedPerSec();
        System.out.printf(Locale.ROOT, "ingest ratio controller/bare: %.2f (target >= 0.50: %s); controller %,.0f/s (target >= 100,000: %s)%n",
            ratio, ratio >= 0.5 ? "PASS" : "MISS", c.absorbedPerSec(), c.absorbedPerSec() >= 100_000 ? "PASS" : "MISS");
        if (c.cpuCores() > 0 && b.cpuCores() > 0) {
          System.out.printf(Locale.ROOT, "ingest ratio per server CPU second: %.2f%n", c.perCpuSecond() / b.perCpuSecond());
        }
        if (o.json()) {
          System.out.printf(Locale.ROOT, "{\"controller_reports_per_sec\":%.0f,\"bare_reports_per_sec\":%.0f,\"ratio\":%.3f,"
                  + "\"controller_offered_per_sec\":%.0f,\"bare_offered_per_sec\":%.0f,\"controller_cpu_cores\":%.2f,\"bare_cpu_cores\":%.2f}%n",
              c.absorbedPerSec(), b.absorbedPerSec(), ratio, c.offeredPerSec(), b.offeredPerSec(), c.cpuCores(), b.cpuCores());
        }
      }
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  private static void print(Rate r, int round) {
    System.out.printf(Locale.ROOT, "ingest %-10s%s: %,.0f reports/s absorbed (offered %,.0f/s)%s%s%n", r.target(),
        round >= 0 ? " leg " + (round + 1) : "", r.absorbedPerSec(), r.offeredPerSec(),
        r.cpuCores() > 0 ? String.format(Locale.ROOT, "; server CPU %.2f cores, %,.0f reports per CPU second",
            r.cpuCores(), r.perCpuSecond()) : "",
        r.refusedStreams() > 0 ? "; " + r.refusedStreams() + " streams refused" : "");
  }

  /** Registers {@code n} nodes with the token over one channel, {@link #REGISTER_CONCURRENCY} at a time. */
  static List<Identity> register(Vertx vertx, HostPort server, String caPem, String token, int n) throws Exception {
    ControllerChannel channel = ControllerChannel.open(vertx, server, caPem, null);
    try {
      List<Identity> nodes = new ArrayList<>();
      for (int from = 0; from < n; from += REGISTER_CONCURRENCY) {
        List<Future<Identity>> round = new ArrayList<>();
        for (int i = from; i < Math.min(n, from + REGISTER_CONCURRENCY); i++) {
          KeyPair keys = WorkerKeys.generateP256();
          String keyPem = Pem.privateKeyToPem(keys.getPrivate());
          RegisterRequest request = RegisterRequest.newBuilder().setBootstrapToken(token)
              .setProfile(WorkerProfile.newBuilder().setOs("linux").setArch("x86_64").putLabels("ingest", "true"))
              .setCsrDer(ByteString.copyFrom(WorkerKeys.createCsr(keys, "zlayer-ingest-" + i))).build();
          round.add(channel.unary(ClusterControlPlaneGrpcClient.Register, request).map(r -> Identity.of(
              Pem.encode(Pem.CERTIFICATE, r.getSignedCertDer().toByteArray()), keyPem, caPem)));
        }
        for (Future<Identity> f : round) {
          nodes.add(f.await(30, TimeUnit.SECONDS));
        }
      }
      return nodes;
    } finally {
      channel.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** A heartbeat as an agent sends one between snapshots, framed for gRPC, {@code count} times over. */
  static Buffer frames(long nodeId, int count) {
    byte[] report = StatusReport.newBuilder().setNodeId(nodeId)
        .setTs(Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000))
        .setState("ready")
        .setResources(WorkerResourceUsage.newBuilder().setCpuUsed(0.25).setMemoryUsedBytes(512L << 20))
        .addContainers(ContainerStatus.newBuilder().setService("web").setRole("default").setReplica(0)
            .setState("running").setOverlayIp("10.200.0.2").setPid(4242))
        .addContainers(ContainerStatus.newBuilder().setService("web").setRole("default").setReplica(1)
            .setState("running").setOverlayIp("10.200.0.3").setPid(4243))
        .build().toByteArray();
    Buffer out = Buffer.buffer((5 + report.length) * count);
    for (int i = 0; i < count; i++) {
      out.appendByte((byte) 0).appendInt(report.length).appendBytes(report);
    }
    return out;
  }

  private static Rate drive(Vertx vertx, String target, HostPort server, String caPem, List<Identity> nodes,
                            Options o, long pid, Duration warmup) throws Exception {
    LongAdder acked = new LongAdder();
    LongAdder sent = new LongAdder();
    LongAdder refused = new LongAdder();
    List<HttpClientAgent> clients = new ArrayList<>();
    List<Stream> streams = new ArrayList<>();
    SocketAddress address = SocketAddress.inetSocketAddress(server.port(), server.host());
    long notOpened = 0;
    // Connections open in waves: a few hundred TLS handshakes at once on a busy box outlast the handshake timeout.
    for (int from = 0; from < nodes.size(); from += OPEN_WAVE) {
      List<Future<Void>> wave = new ArrayList<>();
      for (Identity node : nodes.subList(from, Math.min(nodes.size(), from + OPEN_WAVE))) {
        HttpClientAgent client = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setUseAlpn(true)
                .setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false).setVerifyHost(false)
                .setSslEngineOptions(TlsEngines.preferred())
                .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem)))
                .setKeyCertOptions(new PemKeyCertOptions().setCertValue(Buffer.buffer(node.certPem()))
                    .setKeyValue(Buffer.buffer(node.keyPem()))),
            new PoolOptions().setHttp2MaxSize(1));
        clients.add(client);
        Stream stream = new Stream(frames(node.nodeId(), o.batch()), o.batch(), o.window(), acked, sent, refused);
        streams.add(stream);
        wave.add(client.request(new RequestOptions().setServer(address).setMethod(HttpMethod.POST).setURI(REPORT_STATUS)
                .putHeader("content-type", "application/grpc").putHeader("te", "trailers"))
            .onSuccess(stream::start).mapEmpty());
      }
      Future.join(wave).otherwiseEmpty().await(60, TimeUnit.SECONDS);
      notOpened += wave.stream().filter(Future::failed).count();
    }
    if (notOpened > 0) {
      System.out.println("ingest " + target + ": " + notOpened + " of " + nodes.size() + " streams did not open");
    }
    try {
      Thread.sleep(warmup.toMillis()); // the measured window starts once both JITs have settled
      long cpu0 = cpuTicks(pid);
      long acked0 = acked.sum();
      long sent0 = sent.sum();
      long t0 = System.nanoTime();
      Thread.sleep(o.measure().toMillis());
      double secs = (System.nanoTime() - t0) / 1e9;
      double cores = pid > 0 ? (cpuTicks(pid) - cpu0) / (double) ticksPerSecond() / secs : 0;
      return new Rate(target, (acked.sum() - acked0) / secs, (sent.sum() - sent0) / secs, cores, refused.sum());
    } finally {
      for (Stream s : streams) {
        s.stop();
      }
      Future.join(streams.stream().map(s -> s.finished.future()).toList()).otherwiseEmpty()
          .await(10, TimeUnit.SECONDS);
      List<Future<Void>> closing = new ArrayList<>();
      for (HttpClientAgent c : clients) {
        closing.add(c.close());
      }
      Future.join(closing).await(30, TimeUnit.SECONDS);
    }
  }

  /** One node's status stream: keeps {@code window} reports unacknowledged; counts acks from frame headers. */
  private static final class Stream {
    private final Buffer batch;
    private final int perBatch;
    private final int window;
    private final LongAdder acked;
    private final LongAdder sent;
    private final LongAdder refused;
    private HttpClientRequest request;
    private io.vertx.core.Context context;
    /** The server answered the end of the stream (or it failed). */
    final io.vertx.core.Promise<Void> finished = io.vertx.core.Promise.promise();
    private long inFlight;
    private boolean ended;
    /** Bytes of the frame being read still to skip, or -k: k header bytes read so far of the next one. */
    private int skip;
    private int headerRead;
    private int length;

    Stream(Buffer batch, int perBatch, int window, LongAdder acked, LongAdder sent, LongAdder refused) {
      this.batch = batch;
      this.perBatch = perBatch;
      this.window = window;
      this.acked = acked;
      this.sent = sent;
      this.refused = refused;
    }

    void start(HttpClientRequest req) {
      request = req;
      context = Vertx.currentContext();
      req.response().onFailure(e -> finished.tryComplete()).onSuccess(resp -> {
        resp.handler(this::acks);
        resp.endHandler(v -> {
          end();
          finished.tryComplete();
        });
        resp.exceptionHandler(e -> {
          end();
          finished.tryComplete();
        });
      });
      req.exceptionHandler(e -> {
        end();
        finished.tryComplete();
      });
      req.drainHandler(v -> pump());
      req.setChunked(true); // HTTP/2 has no chunked encoding; Vert.x asks for a length or this
      req.sendHead().onSuccess(v -> pump());
    }

    /** Ends the stream as a worker that stops reporting: no more reports, the request ended, the acks ignored. */
    void stop() {
      if (request != null && !ended) {
        ended = true;
        context.runOnContext(v -> request.end());
      } else {
        finished.tryComplete();
      }
    }

    private void end() {
      if (!ended) { // the server ended the stream before the generator did: a refusal
        ended = true;
        refused.increment();
      }
    }

    private void pump() {
      while (!ended && inFlight + perBatch <= window && !request.writeQueueFull()) {
        request.write(batch.copy());
        inFlight += perBatch;
        sent.add(perBatch);
      }
    }

    /** Counts whole ack frames: a 5-byte header (flag, 4-byte length) then the message. */
    private void acks(Buffer data) {
      int n = 0;
      int i = 0;
      int size = data.length();
      while (i < size) {
        if (skip > 0) {
          int step = Math.min(skip, size - i);
          skip -= step;
          i += step;
          if (skip == 0) {
            n++;
          }
          continue;
        }
        // header byte headerRead (0: flag, 1..4: length, big-endian)
        if (headerRead > 0) {
          length = (length << 8) | (data.getByte(i) & 0xff);
        } else {
          length = 0;
        }
        headerRead++;
        i++;
        if (headerRead == 5) {
          headerRead = 0;
          if (length == 0) {
            n++;
          } else {
            skip = length;
          }
        }
      }
      if (n > 0) {
        inFlight -= n;
        acked.add(n);
        pump();
      }
    }
  }

  private static long cpuTicks(long pid) {
    if (pid <= 0) {
      return 0;
    }
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime (fields 14 and 15)
    } catch (Exception e) {
      return 0;
    }
  }

  private static long ticksPerSecond() {
    return 100; // USER_HZ on Linux
  }
}
