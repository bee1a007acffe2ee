package io.zlayer.worker.sim;

import java.util.Arrays;

/** Latencies in nanoseconds, kept exactly (a growable long[]); percentiles by sorting a copy. Thread-safe. */
public final class LatencyRecorder {
  private long[] values = new long[1024];
  private int size;

  public synchronized void record(long nanos) {
    if (size == values.length) {
      values = Arrays.copyOf(values, size * 2);
    }
    values[size++] = nanos;
  }

  public synchronized int count() {
    return size;
  }

  /** Percentile {@code p} in [0, 100] in milliseconds (nearest rank), or NaN when empty. */
  public synchronized double percentileMillis(double p) {
    if (size == 0) {
      return Double.NaN;
    }
    long[] sorted = Arrays.copyOf(values, size);
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * size);
    return sorted[Math.min(size - 1, Math.max(0, rank - 1))] / 1e6;
  }

  public synchronized double maxMillis() {
    long max = Long.MIN_VALUE;
    for (int i = 0; i < size; i++) {
      max = Math.max(max, values[i]);
    }
    return size == 0 ? Double.NaN : max / 1e6;
  }

  /** Every latency recorded, in milliseconds, in recording order (for merging several processes' figures). */
  public synchronized io.vertx.core.json.JsonArray millis() {
    io.vertx.core.json.JsonArray out = new io.vertx.core.json.JsonArray();
    for (int i = 0; i < size; i++) {
      out.add(Math.round(values[i] / 1e3) / 1e3);
    }
    return out;
  }
}
