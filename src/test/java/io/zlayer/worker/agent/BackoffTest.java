package io.zlayer.worker.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void doublesFromOneSecondToSixtyWithJitterBounds() {
    Backoff low = new Backoff(Backoff.INITIAL, Backoff.MAX, () -> 0.0);
    long[] expected = {800, 1600, 3200, 6400, 12800, 25600, 48000, 48000};
    for (long e : expected) {
      assertEquals(e, low.next().toMillis());
    }
    Backoff high = new Backoff(Backoff.INITIAL, Backoff.MAX, () -> 1.0);
    for (int i = 0; i < 10; i++) {
      assertTrue(high.next().compareTo(Duration.ofSeconds(72)) <= 0);
    }
    low.reset();
    assertEquals(800, low.next().toMillis());
  }

  @Test
  void reportIntervalLeavesAMarginBeforeTheTtl() {
    assertEquals(7_500, io.zlayer.worker.agent.session.TtlBounds.intervalMillis(10));
    assertEquals(195_000, io.zlayer.worker.agent.session.TtlBounds.intervalMillis(200));
    assertEquals(1_000, io.zlayer.worker.agent.session.TtlBounds.intervalMillis(2));
    assertEquals(500, io.zlayer.worker.agent.session.TtlBounds.intervalMillis(1));
  }
}
