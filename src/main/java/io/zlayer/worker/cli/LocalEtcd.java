package io.zlayer.worker.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway single-member etcd for {@code bin/worker dev --controllers N}: Debian's
 * {@code /usr/bin/etcd} (or {@code etcd} on the PATH) on free loopback ports, with a temporary data
 * directory and auto-compaction, stopped and deleted on {@link #close}.
 */
final class LocalEtcd implements AutoCloseable {
  static final String PACKAGE = "etcd-server";
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(15);

  private final Path dir;
  private final Process process;
  private final String endpoint;

  private LocalEtcd(Path dir, Process process, String endpoint) {
    this.dir = dir;
    this.process = process;
    this.endpoint = endpoint;
  }

  /** The etcd binary, or an error naming the package to install. */
  static Path binary() {
    for (String dir : List.of("/usr/bin", "/usr/local/bin")) {
      Path p = Path.of(dir, "etcd");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(":")) {
        Path p = Path.of(dir, "etcd");
        if (!dir.isEmpty() && Files.isExecutable(p)) {
          return p;
        }
      }
    }
    throw new IllegalStateException("etcd is not installed: install Debian's " + PACKAGE
        + " (sudo apt-get install -y " + PACKAGE + "), then run again");
  }

  static LocalEtcd start() throws IOException, InterruptedException {
    Path etcd = binary();
    Path dir = Files.createTempDirectory("zlayer-dev-etcd-");
    int clientPort = freePort();
    int peerPort = freePort();
    String client = "http://127.0.0.1:" + clientPort;
    String peer = "http://127.0.0.1:" + peerPort;
    List<String> command = new java.util.ArrayList<>();
    // In a session of its own (setsid execs it, same pid): a Ctrl-C in the terminal reaches the
    // dev process, which stops the controllers gracefully and then etcd, not etcd first.
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      command.add("/usr/bin/setsid");
    }
    command.addAll(List.of(etcd.toString(), "--name", "dev", "--data-dir", dir.resolve("data").toString(),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "dev=" + peer,
        "--auto-compaction-mode=revision", "--auto-compaction-retention=100000",
        "--logger=zap", "--log-outputs=" + dir.resolve("etcd.log")));
    Process p = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(dir.resolve("etcd.out").toFile()).start();
    LocalEtcd local = new LocalEtcd(dir, p, client);
    // No shutdown hook of its own: hooks run concurrently, and etcd must outlive the controllers'
    // graceful stop (the dev command's stop closes it after them).
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (true) {
      if (!p.isAlive()) {
        String out = Files.readString(dir.resolve("etcd.out"));
        local.close();
        throw new IllegalStateException("etcd exited with code " + p.exitValue() + ": " + out.strip());
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", clientPort), 200);
        return local;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          local.close();
          throw new IllegalStateException("etcd did not listen on " + client + " within " + READY_TIMEOUT.toSeconds() + " s");
        }
        Thread.sleep(50); // the CLI's main thread, not an event loop
      }
    }
  }

  String endpoint() {
    return endpoint;
  }

  long pid() {
    return process.pid();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public synchronized void close() throws InterruptedException, IOException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (Files.exists(dir)) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
