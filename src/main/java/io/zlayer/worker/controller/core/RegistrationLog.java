package io.zlayer.worker.controller.core;

import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registration log: one line per admitted node, except in a storm, where past
 * {@link #LINES_PER_SECOND} lines a second the rest of that second's nodes are counted and
 * summed up in one line (each still at DEBUG). 10,000 workers joining at once would otherwise
 * write 10,000 lines, and the log line was a measurable part of a registration's cost.
 */
final class RegistrationLog {
  private static final Logger LOG = LoggerFactory.getLogger(Registrar.class);
  static final int LINES_PER_SECOND = 20;
  private static final long WINDOW_NANOS = 1_000_000_000L;

  private final Vertx vertx;
  private long windowStart = System.nanoTime();
  private int lines;
  private int folded;
  private long firstFolded;
  private long lastFolded;
  private boolean flushScheduled;

  RegistrationLog(Vertx vertx) {
    this.vertx = vertx;
  }

  synchronized void admitted(NodeRecord node, String tokenId, int ttl) {
    long now = System.nanoTime();
    if (now - windowStart >= WINDOW_NANOS) {
      flush();
      windowStart = now;
      lines = 0;
    }
    if (++lines <= LINES_PER_SECOND) {
      LOG.info("node {} registered (os={}, arch={}, protocol={}, token_id={}, ttl={}s)", node.nodeId(),
          node.profile().getString("os"), node.profile().getString("arch"), node.protocol(), tokenId, ttl);
      return;
    }
    LOG.debug("node {} registered (protocol={}, token_id={}, ttl={}s)", node.nodeId(), node.protocol(), tokenId, ttl);
    if (folded++ == 0) {
      firstFolded = node.nodeId();
    }
    lastFolded = node.nodeId();
    if (!flushScheduled) {
      flushScheduled = true;
      vertx.setTimer(WINDOW_NANOS / 1_000_000, t -> flushLater());
    }
  }

  private synchronized void flushLater() {
    flushScheduled = false;
    flush();
  }

  private void flush() {
    if (folded > 0) {
      LOG.info("{} more nodes registered within a second (node {} .. node {}); per-node lines at DEBUG",
          folded, firstFolded, lastFolded);
      folded = 0;
    }
  }
}
