package io.zlayer.worker.it;

import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Event-loop stall figures for the abuse tests (issue 14: no input may block an event loop for more
 * than 100 ms). Every event loop of a {@link Vertx} runs a task every {@value #PERIOD_MS} ms that
 * measures how late it ran: a loop busy with one handler for 300 ms shows a 300 ms lag. The tests
 * run the controller and their hostile client on the same Vert.x, so the figure bounds both.
 *
 * <p>On this shared 2-core box a loop is also late when the OS runs something else (other builds, a
 * full GC), and the first calls of a run load classes and run cold code on the loops (up to ~1.4 s
 * seen with the box at load 25), so the tests print the figure (max and p99) always and assert only
 * a generous bound ({@link #BOUND_MS}, 2 s; {@code -Dzlayer.abuse.maxLoopLagMs}): a handler that
 * inflates a bomb on the loop (4.5 s in the issue) fails it; scheduling noise does not. An explicit
 * GC for a heap figure is left out ({@link #excluding}).
 */
final class LoopLag implements AutoCloseable {
  static final long PERIOD_MS = 10;
  static final long STALL_MS = 100;
  static final long BOUND_MS = Long.getLong("zlayer.abuse.maxLoopLagMs", 2_000);
  private static final int HISTOGRAM_MS = 10_000;

  private final List<Sampler> samplers = new ArrayList<>();
  private volatile boolean closed;
  private volatile boolean quiet;
  private volatile long quietEndedNanos = Long.MIN_VALUE;

  private LoopLag(Vertx vertx) {
    for (EventExecutor loop : ((VertxInternal) vertx).nettyEventLoopGroup()) {
      Sampler s = new Sampler(loop);
      samplers.add(s);
      s.schedule();
    }
  }

  /** Starts sampling every event loop of {@code vertx}. */
  static LoopLag start(Vertx vertx) {
    return new LoopLag(vertx);
  }

  /** The largest lag seen on any loop so far, in ms. */
  long maxMs() {
    return samplers.stream().mapToLong(s -> s.maxNanos.get()).max().orElse(0) / 1_000_000;
  }

  long samples() {
    return samplers.stream().mapToLong(s -> s.samples.get()).sum();
  }

  long stalls() {
    return samplers.stream().mapToLong(s -> s.stalls.get()).sum();
  }

  /** The lag {@code fraction} of the samples stayed under, in ms (whole ms). */
  long percentileMs(double fraction) {
    long[] counts = new long[HISTOGRAM_MS + 1];
    long total = 0;
    for (Sampler s : samplers) {
      for (int i = 0; i <= HISTOGRAM_MS; i++) {
        counts[i] += s.histogram.get(i);
        total += s.histogram.get(i);
      }
    }
    long rank = (long) Math.ceil(fraction * total);
    long seen = 0;
    for (int i = 0; i <= HISTOGRAM_MS; i++) {
      seen += counts[i];
      if (seen >= rank && rank > 0) {
        return i;
      }
    }
    return 0;
  }

  /** The figure for an {@code abuse ...} line. */
  String figure() {
    return String.format("event-loop lag max %d ms, p99 %d ms (%d loops, %,d samples, %d over %d ms)", maxMs(),
        percentileMs(0.99), samplers.size(), samples(), stalls(), STALL_MS);
  }

  /** Whether the lag stayed within the generous bound. */
  boolean withinBound() {
    return maxMs() < BOUND_MS;
  }

  /**
   * Runs {@code work} (a heap figure: {@code System.gc()} stops every thread) without counting the
   * lag it causes: a sample that was waiting while it ran is dropped.
   */
  <T> T excluding(java.util.function.Supplier<T> work) {
    quiet = true;
    try {
      return work.get();
    } finally {
      quietEndedNanos = System.nanoTime();
      quiet = false;
    }
  }

  @Override
  public void close() {
    closed = true;
  }

  private final class Sampler implements Runnable {
    private final EventExecutor loop;
    private final AtomicLong maxNanos = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();
    private final AtomicLong stalls = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicLongArray histogram = new java.util.concurrent.atomic.AtomicLongArray(HISTOGRAM_MS + 1);
    private long due;

    Sampler(EventExecutor loop) {
      this.loop = loop;
    }

    private long scheduled;

    void schedule() {
      scheduled = System.nanoTime();
      due = scheduled + TimeUnit.MILLISECONDS.toNanos(PERIOD_MS);
      loop.schedule(this, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void run() {
      if (quiet || scheduled <= quietEndedNanos) {
        if (!closed && !loop.isShuttingDown()) {
          schedule(); // waited through an excluded pause: not a figure
        }
        return;
      }
      long lag = Math.max(0, System.nanoTime() - due);
      samples.incrementAndGet();
      maxNanos.accumulateAndGet(lag, Math::max);
      histogram.incrementAndGet((int) Math.min(HISTOGRAM_MS, lag / 1_000_000));
      if (lag > TimeUnit.MILLISECONDS.toNanos(STALL_MS)) {
        stalls.incrementAndGet();
      }
      if (!closed && !loop.isShuttingDown()) {
        schedule();
      }
    }
  }
}
