package io.zlayer.worker.controller.http;

import java.util.HashMap;
import java.util.Map;

/**
 * The legacy long-polls being held: at most one per node (a newer poll answers the older one
 * empty), at most {@code capacity} in all. Fed with every assignment event so a held poll wakes
 * at once, and so a poll that raced an event is not held past it. Shared by every endpoint
 * verticle instance (each on its own event loop), so its methods are synchronized; a waiter's
 * wake/supersede must only schedule work on the waiter's own event loop.
 */
public final class PollHub<E> {
  /** A held poll. */
  interface Waiter<E> {
    /** The revision the poll asked to see events after. */
    long lastRevision();

    /**
     * An event for the node arrived: answer with it. It is the only event after the poll's
     * revision: the poll was held because none existed, and {@link #hold} refuses to hold past
     * one that raced it.
     */
    void wake(E event);

    /** A newer poll of the same node replaced this one: answer empty. */
    void supersede();

    /** The controller is stopping: answer with the reason (the worker moves on at once). */
    default void leaving(String reason) {
      supersede();
    }
  }

  enum Outcome { HELD, WAKE_NOW, OVER_CAPACITY, LEAVING }

  private final int capacity;
  private final Map<Long, Waiter<E>> held = new HashMap<>();
  private final Map<Long, Long> latestEvent = new HashMap<>();
  private String leaving;

  public PollHub(int capacity) {
    this.capacity = capacity;
  }

  synchronized Outcome hold(long nodeId, Waiter<E> waiter) {
    if (leaving != null) {
      return Outcome.LEAVING;
    }
    if (latestEvent.getOrDefault(nodeId, 0L) > waiter.lastRevision()) {
      return Outcome.WAKE_NOW; // an event landed between the poll's read and now
    }
    Waiter<E> older = held.get(nodeId);
    if (older == null && held.size() >= capacity) {
      return Outcome.OVER_CAPACITY;
    }
    held.put(nodeId, waiter);
    if (older != null) {
      older.supersede();
    }
    return Outcome.HELD;
  }

  /** The poll ended on its own (timeout, client gone). */
  synchronized void release(long nodeId, Waiter<E> waiter) {
    held.remove(nodeId, waiter);
  }

  public synchronized void event(long nodeId, long revision, E event) {
    latestEvent.merge(nodeId, revision, Math::max);
    Waiter<E> waiter = held.remove(nodeId);
    if (waiter != null) {
      waiter.wake(event);
    }
  }

  /** Drops what is kept for a node that was collected (see collection, or a node that left). */
  public synchronized void forget(long nodeId) {
    latestEvent.remove(nodeId);
    Waiter<E> waiter = held.remove(nodeId);
    if (waiter != null) {
      waiter.supersede(); // answered empty now; its next poll is refused
    }
  }

  /**
   * The controller is stopping: every held poll is answered with {@code reason}, and polls that
   * come after are refused with it ({@link Outcome#LEAVING}).
   */
  public synchronized void drain(String reason) {
    leaving = reason;
    held.values().forEach(w -> w.leaving(reason));
    held.clear();
  }

  /** The reason given to {@link #drain}; null while the controller serves. */
  public synchronized String leaving() {
    return leaving;
  }

  /** Polls held now. */
  public synchronized int size() {
    return held.size();
  }
}
