package io.zlayer.worker.sim;

import io.zlayer.worker.pki.CsrVerifier;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.pki.WorkerKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The crypto a registration cannot avoid, at full speed: one CSR signature check
 * ({@link CsrVerifier#verify}) plus one certificate signature ({@link WorkerCa#issueWorkerCertificate}),
 * EC P-256 with BouncyCastle as the controller uses them, on {@code threads} threads for
 * {@code seconds}. CSRs (fresh keys) are made before the clock. Prints one line and, with
 * {@code --json}, a JSON object. Usage: {@code CryptoBaseline [threads=2] [seconds=5] [--json]}.
 */
public final class CryptoBaseline {
  private static final Duration WARMUP = Duration.ofMillis(Long.getLong("zlayer.baseline.warmupMs", 4000));

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 && !args[0].startsWith("-") ? Integer.parseInt(args[0]) : 2;
    double seconds = args.length > 1 && !args[1].startsWith("-") ? Double.parseDouble(args[1]) : 5;
    boolean json = List.of(args).contains("--json");
    double rate = measure(threads, Duration.ofMillis((long) (seconds * 1000)));
    if (json) {
      System.out.printf(java.util.Locale.ROOT, "{\"threads\":%d,\"seconds\":%.1f,\"registrations_crypto_per_sec\":%.1f}%n",
          threads, seconds, rate);
    } else {
      System.out.printf("registration crypto (CSR verify + certificate sign, EC P-256, BC): %.0f/s on %d threads%n",
          rate, threads);
    }
  }

  /** Registrations' worth of crypto per second. */
  public static double measure(int threads, Duration duration) throws Exception {
    Path dir = Files.createTempDirectory("zlayer-crypto-baseline");
    WorkerCa ca = WorkerCa.loadOrCreate(dir.resolve("ca"), "cbaseline00000001");
    int pool = 512;
    List<byte[]> csrs = new ArrayList<>();
    for (int i = 0; i < pool; i++) {
      KeyPair keys = WorkerKeys.generateP256();
      csrs.add(WorkerKeys.createCsr(keys, "baseline-" + i));
    }
    try {
      // Warm up until the JIT has compiled the EC arithmetic (C2 takes a few seconds), then measure.
      run(ca, csrs, threads, WARMUP);
      AtomicLong done = run(ca, csrs, threads, duration);
      return done.get() / (duration.toMillis() / 1000.0);
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static AtomicLong run(WorkerCa ca, List<byte[]> csrs, int threads, Duration duration) throws Exception {
    AtomicLong done = new AtomicLong();
    long end = System.nanoTime() + duration.toNanos();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int lane = t;
      Thread th = new Thread(() -> {
        long id = 1 + lane;
        int i = lane;
        while (System.nanoTime() < end) {
          try {
            PublicKey key = CsrVerifier.verify(csrs.get(i % csrs.size()));
            ca.issueWorkerCertificate(key, id, Duration.ofDays(30)); // as the controller issues them
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          id += threads;
          i += threads;
          done.incrementAndGet();
        }
      }, "crypto-baseline-" + t);
      th.start();
      workers.add(th);
    }
    for (Thread th : workers) {
      th.join();
    }
    return done;
  }

  /**
   * Runs the baseline (2 threads, 5 s, after its warm-up) in a child JVM, so this JVM's compiler
   * and heap stay out of it; returns registrations per second, or NaN if it failed.
   */
  public static double inChildProcess() {
    Process p = null;
    try {
      String javaBin = ProcessHandle.current().info().command().orElse("java");
      p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
          CryptoBaseline.class.getName(), "2", "5", "--json")
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
        return Double.NaN;
      }
      for (String line : new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
          .split("\n")) {
        if (line.startsWith("{")) {
          return new io.vertx.core.json.JsonObject(line).getDouble("registrations_crypto_per_sec", Double.NaN);
        }
      }
      return Double.NaN;
    } catch (java.io.IOException | RuntimeException e) {
      return Double.NaN;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Double.NaN;
    } finally {
      if (p != null) {
        p.destroyForcibly(); // no-op once it has exited
      }
    }
  }
}
