package io.zlayer.worker.agent.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A worker's order over its servers: its first server, then the others in an order of its own, so
 * the workers of a controller that died spread over the others instead of all moving to the next
 * one in the list.
 */
class FailoverOrderTest {
  @Test
  void firstServerThenTheOthersSpreadEvenly() {
    int n = 4;
    int first = 1;
    int[] secondChoice = new int[n];
    int fleet = 12_000;
    for (int w = 0; w < fleet; w++) {
      int[] order = Session.failoverOrder(n, first);
      assertEquals(first, order[0], "the first server stays first");
      int[] sorted = order.clone();
      Arrays.sort(sorted);
      assertTrue(Arrays.equals(new int[] {0, 1, 2, 3}, sorted), "every server once: " + Arrays.toString(order));
      secondChoice[order[1]]++;
    }
    assertEquals(0, secondChoice[first]);
    for (int s = 0; s < n; s++) {
      if (s != first) {
        // 4,000 each on average; 3,700 is more than 9 standard deviations (~52) below.
        assertTrue(secondChoice[s] > 3_700, "server " + s + " is the next of " + secondChoice[s] + " of " + fleet);
      }
    }
    assertEquals(0, Session.failoverOrder(1, 0)[0]);
  }
}
