package io.zlayer.worker.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.helpers.NOPLogger;

/** One line per peer per window, a global cap, and the folded count carried into the next line. */
class RefusalLogTest {
  @Test
  void foldsAPeersRefusalsIntoOneLinePerWindow() {
    AtomicLong now = new AtomicLong();
    RefusalLog log = new RefusalLog(NOPLogger.NOP_LOGGER, 10_000, now::get);
    assertTrue(log.refused("10.0.0.1", "x"));
    for (int i = 0; i < 2_000; i++) {
      assertFalse(log.refused("10.0.0.1", "x"));
    }
    assertTrue(log.refused("10.0.0.2", "x"), "another peer has its own line");
    now.addAndGet(10_000_000_000L);
    assertTrue(log.refused("10.0.0.1", "x"), "a new window, a new line");
  }

  @Test
  void manyPeersShareAGlobalCap() {
    AtomicLong now = new AtomicLong();
    RefusalLog log = new RefusalLog(NOPLogger.NOP_LOGGER, 10_000, now::get);
    int lines = 0;
    for (int i = 0; i < 10_000; i++) {
      lines += log.refused("peer-" + i, "x") ? 1 : 0;
    }
    assertEquals(RefusalLog.MAX_LINES_PER_WINDOW, lines);
  }
}
