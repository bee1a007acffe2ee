package io.zlayer.worker.store.etcd;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real etcd (Debian's etcd-server) for tests: free loopback ports, a temp data dir, auto
 * compaction as production runs it. {@link #kill()} is {@code kill -9}; {@link #start()} again
 * reuses the ports and the data. A missing binary fails the test loudly: CI installs the package.
 */
public final class EtcdServer implements AutoCloseable {
  public static final String BINARY = System.getProperty("zlayer.etcd", "/usr/bin/etcd");
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(15);

  private final Path dataDir;
  private final int clientPort;
  private final int peerPort;
  private final int metricsPort;
  private Process process;
  /** Server certificate, key and the CA clients must present certificates from; null: plain http. */
  private Path tlsCert;
  private Path tlsKey;
  private Path tlsCa;

  public EtcdServer() throws IOException {
    if (!Files.isExecutable(Path.of(BINARY))) {
      throw new AssertionError("etcd not found at " + BINARY
          + ": install Debian's etcd-server (apt-get install -y etcd-server; .ci/run does it)");
    }
    dataDir = Files.createTempDirectory("zlayer-etcd-");
    clientPort = freePort();
    peerPort = freePort();
    metricsPort = freePort();
  }

  /** Serve clients over TLS only, and require a client certificate signed by {@code ca}. */
  public EtcdServer withTls(Path cert, Path key, Path ca) {
    this.tlsCert = cert;
    this.tlsKey = key;
    this.tlsCa = ca;
    return this;
  }

  public String endpoint() {
    return (tlsCert == null ? "http" : "https") + "://127.0.0.1:" + clientPort;
  }

  public EtcdServer start() throws IOException, InterruptedException {
    String client = endpoint();
    String peer = "http://127.0.0.1:" + peerPort;
    List<String> args = new java.util.ArrayList<>(List.of(BINARY, "--name", "test",
        "--data-dir", dataDir.resolve("data").toString(),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", "test=" + peer, "--listen-metrics-urls", metrics(),
        "--auto-compaction-mode=revision", "--auto-compaction-retention=1000",
        "--logger=zap", "--log-outputs=" + dataDir.resolve("etcd.log")));
    if (tlsCert != null) {
      args.addAll(List.of("--cert-file", tlsCert.toString(), "--key-file", tlsKey.toString(),
          "--client-cert-auth", "--trusted-ca-file", tlsCa.toString()));
    }
    process = new ProcessBuilder(args)
        .redirectErrorStream(true)
        .redirectOutput(dataDir.resolve("etcd.out").toFile())
        .start();
    awaitHealthy();
    return this;
  }

  /** kill -9: no chance to flush or say goodbye. */
  public void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
      process = null;
    }
  }

  /** SIGSTOP: etcd keeps its connections but answers nothing (a hung or partitioned server). */
  public void pause() throws IOException, InterruptedException {
    signal("-STOP");
  }

  /** SIGCONT after {@link #pause()}. */
  public void resume() throws IOException, InterruptedException {
    signal("-CONT");
  }

  private void signal(String signal) throws IOException, InterruptedException {
    int rc = new ProcessBuilder("kill", signal, Long.toString(process.pid())).inheritIO().start().waitFor();
    if (rc != 0) {
      throw new IOException("kill " + signal + " " + process.pid() + " exited with " + rc);
    }
  }

  public void stop() throws InterruptedException {
    if (process != null) {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      process = null;
    }
  }

  @Override
  public void close() throws Exception {
    kill();
    try (Stream<Path> files = Files.walk(dataDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** Plain-http /health and /metrics, also when clients need TLS. */
  private String metrics() {
    return "http://127.0.0.1:" + metricsPort;
  }

  /** Polls etcd's /health until it answers true; the process is ours, there is no event to wait on. */
  private void awaitHealthy() throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
    HttpRequest health = HttpRequest.newBuilder(URI.create(metrics() + "/health"))
        .timeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("etcd exited with " + process.exitValue() + ": "
            + Files.readString(dataDir.resolve("etcd.out")) + tail(dataDir.resolve("etcd.log")));
      }
      try {
        HttpResponse<String> r = http.send(health, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200 && r.body().contains("true")) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    kill();
    throw new AssertionError("etcd not healthy within " + READY_TIMEOUT + ": " + tail(dataDir.resolve("etcd.log")));
  }

  private static String tail(Path log) throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    String s = Files.readString(log);
    return s.substring(Math.max(0, s.length() - 2000));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }
}
