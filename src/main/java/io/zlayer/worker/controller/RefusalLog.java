package io.zlayer.worker.controller;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * Logs refused input without letting a peer fill the log: at most one line per peer per window
 * (the next line counts what was folded), a bounded table of peers, and a global cap on lines
 * per window so that many peers cannot amplify either. Never a stack trace.
 */
public final class RefusalLog {
  /** One line per peer per window: a flood of 2,000 refusals costs one line, not 2,000. */
  public static final long DEFAULT_WINDOW_MILLIS = 10_000;
  /** Peers remembered at once; the least recently refused one is forgotten first. */
  static final int MAX_PEERS = 4_096;
  /** Lines per window from all peers together. */
  static final int MAX_LINES_PER_WINDOW = 50;

  private final Logger log;
  private final long windowNanos;
  private final LongSupplier nanoTime;
  private final Map<String, long[]> peers = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, long[]> eldest) {
      return size() > MAX_PEERS;
    }
  };
  private long windowStart;
  private int linesInWindow;
  private long foldedGlobally;

  public RefusalLog(Logger log) {
    this(log, DEFAULT_WINDOW_MILLIS, System::nanoTime);
  }

  RefusalLog(Logger log, long windowMillis, LongSupplier nanoTime) {
    this.log = log;
    this.windowNanos = windowMillis * 1_000_000L;
    this.nanoTime = nanoTime;
    this.windowStart = nanoTime.getAsLong();
  }

  /**
   * Records one refusal of {@code peer}'s input; logs it when this peer has not had a line in
   * the current window. {@code what} must not hold secrets (no tokens, no bodies).
   *
   * @return whether a line was written
   */
  public boolean refused(String peer, String what) {
    long folded;
    long foldedAll;
    synchronized (this) {
      long now = nanoTime.getAsLong();
      if (now - windowStart >= windowNanos) {
        windowStart = now;
        linesInWindow = 0;
      }
      long[] state = peers.get(peer); // {last line at, refusals folded since}
      if (state != null && now - state[0] < windowNanos) {
        state[1]++;
        return false;
      }
      if (linesInWindow >= MAX_LINES_PER_WINDOW) {
        foldedGlobally++;
        return false;
      }
      linesInWindow++;
      folded = state == null ? 0 : state[1];
      foldedAll = foldedGlobally;
      foldedGlobally = 0;
      peers.put(peer, new long[] {now, 0});
    }
    if (folded == 0 && foldedAll == 0) {
      log.warn("refused {} from {}", what, peer);
    } else {
      log.warn("refused {} from {} ({} more from this peer, {} from others, not logged)", what, peer, folded, foldedAll);
    }
    return true;
  }
}
