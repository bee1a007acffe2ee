package io.zlayer.worker.agent;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * Reconnect delays: 1 s doubling to 60 s, each multiplied by a jitter in [0.8, 1.2] so a fleet
 * that lost its controller does not come back in lockstep. Reset after a session came up.
 */
public final class Backoff {
  public static final Duration INITIAL = Duration.ofSeconds(1);
  public static final Duration MAX = Duration.ofSeconds(60);
  public static final double JITTER_MIN = 0.8;
  public static final double JITTER_MAX = 1.2;

  private final Duration initial;
  private final Duration max;
  private final DoubleSupplier random;
  private Duration next;

  public Backoff() {
    this(INITIAL, MAX, () -> ThreadLocalRandom.current().nextDouble());
  }

  public Backoff(Duration initial, Duration max, DoubleSupplier random) {
    this.initial = initial;
    this.max = max;
    this.random = random;
    this.next = initial;
  }

  /** The delay before the next attempt; doubles the one after. */
  public Duration next() {
    Duration base = next;
    next = base.multipliedBy(2).compareTo(max) > 0 ? max : base.multipliedBy(2);
    double jitter = JITTER_MIN + (JITTER_MAX - JITTER_MIN) * random.getAsDouble();
    return Duration.ofMillis(Math.max(1, Math.round(base.toMillis() * jitter)));
  }

  public void reset() {
    next = initial;
  }
}
