package io.zlayer.worker.controller.core;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The live leases of this controller, in memory (as Nomad keeps its heartbeat timers): a
 * renewal is a map update, not a durable write. Owns the count N that drives the adaptive TTL.
 */
public final class LeaseDirectory {
  private final Map<Long, Lease> leases = new ConcurrentHashMap<>();
  private final AdaptiveTtl ttl;
  /** Told when a node's heartbeats first land here (several controllers: ownership); null alone. */
  private volatile java.util.function.LongConsumer onHeld;
  /** Nodes whose heartbeats land here (only kept when {@link #onHeld} is set). */
  private final java.util.Set<Long> held = ConcurrentHashMap.newKeySet();

  public LeaseDirectory(AdaptiveTtl ttl) {
    this.ttl = ttl;
  }

  public AdaptiveTtl ttl() {
    return ttl;
  }

  /** Number of live leases: the N of the TTL formula. */
  public int size() {
    return leases.size();
  }

  /** The TTL every worker gets right now. */
  public int currentTtl() {
    return ttl.compute(leases.size());
  }

  /** Grants or renews a lease and returns the TTL the worker must honour next. */
  public int renew(long nodeId, long nowMillis) {
    Lease lease = leases.compute(nodeId, (id, old) -> old == null
        ? new Lease(id, nowMillis, ttl.compute(leases.size() + 1L), ttl.graceSecs())
        : old.renewed(nowMillis, ttl.compute(leases.size())));
    markHeld(nodeId);
    return lease.ttlSecs();
  }

  /**
   * The first lease of a node just admitted: the worker is told the TTL every worker gets, but the
   * lease lasts at least the failover TTL until its first heartbeat, as after a controller start.
   * Between its registration and its first heartbeat a worker opens a new mTLS connection and its
   * streams; in a registration storm (or on a loaded etcd) that can take longer than a short TTL,
   * and a node that never reported yet is not one that went silent.
   */
  public int admit(long nodeId, long nowMillis) {
    int told = ttl.compute(leases.size() + 1L);
    leases.put(nodeId, new Lease(nodeId, nowMillis, Math.max(told, failoverTtl()), ttl.graceSecs()));
    markHeld(nodeId);
    return told;
  }

  /** Tells the {@link #onHeld} listener of a node whose heartbeats start landing here (once). */
  private void markHeld(long nodeId) {
    java.util.function.LongConsumer h = onHeld;
    if (h != null && held.add(nodeId)) {
      h.accept(nodeId);
    }
  }

  /**
   * With several controllers: {@code listener} hears of each node whose heartbeats start landing
   * here (once, until the lease goes or {@link #release} is called), to record the ownership.
   */
  public void onHeld(java.util.function.LongConsumer listener) {
    onHeld = listener;
  }

  /** Whether this controller holds the node's session (its heartbeats land here). */
  public boolean holds(long nodeId) {
    return held.contains(nodeId);
  }

  /** The nodes whose heartbeats land here. */
  public java.util.List<Long> heldNodes() {
    return List.copyOf(held);
  }

  /** Another controller holds the node now: drop its lease here, so this one never sweeps it. */
  public void release(long nodeId) {
    held.remove(nodeId);
    leases.remove(nodeId);
  }

  /** Gives a lease the failover TTL, as after a controller start (nobody expires while workers reconnect). */
  public void grantFailover(long nodeId, long nowMillis) {
    leases.put(nodeId, new Lease(nodeId, nowMillis, failoverTtl(), ttl.graceSecs()));
  }

  /**
   * The failover TTL, but never less than the TTL workers are told now: with a large fleet that is
   * up to {@code max_ttl} (600 s), and a node adopted while still connected elsewhere reports only
   * that often.
   */
  private int failoverTtl() {
    return Math.max(ttl.failoverTtlSecs(), currentTtl());
  }

  public Optional<Lease> get(long nodeId) {
    return Optional.ofNullable(leases.get(nodeId));
  }

  public void remove(long nodeId) {
    leases.remove(nodeId);
    held.remove(nodeId);
  }

  /** Removes and returns the leases expired at {@code nowMillis}. */
  public List<Lease> takeExpired(long nowMillis) {
    List<Lease> expired = new ArrayList<>();
    for (Lease lease : leases.values()) {
      if (lease.isExpired(nowMillis) && leases.remove(lease.nodeId(), lease)) {
        held.remove(lease.nodeId());
        expired.add(lease);
      }
    }
    return expired;
  }

  public Collection<Lease> all() {
    return List.copyOf(leases.values());
  }
}
