package io.zlayer.worker.controller.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Seed 001's TTL table and lease boundaries. */
class AdaptiveTtlTest {
  @Test
  void ttlScalesWithClusterSize() {
    AdaptiveTtl ttl = AdaptiveTtl.DEFAULTS;
    assertEquals(10, ttl.compute(10));
    assertEquals(10, ttl.compute(100));
    assertEquals(10, ttl.compute(500));
    assertEquals(20, ttl.compute(1000));
    assertEquals(200, ttl.compute(10_000));
    assertEquals(600, ttl.compute(100_000));
  }

  @Test
  void ttlRoundsUpAndHandlesZeroRate() {
    AdaptiveTtl ttl = new AdaptiveTtl(1, 600, 10, 50, 300);
    assertEquals(2, ttl.compute(51));
    assertEquals(600, new AdaptiveTtl(10, 600, 10, 0, 300).compute(5));
  }

  @Test
  void leaseExpiresOnlyAfterTtlPlusGrace() {
    Lease lease = new Lease(1, 1_000_000, 30, 10);
    assertFalse(lease.isExpired(1_000_000 + 25_000));
    assertFalse(lease.isExpired(1_000_000 + 40_000), "40 s elapsed: still within ttl + grace");
    assertTrue(lease.isExpired(1_000_000 + 41_000), "41 s elapsed: expired");
  }

  @Test
  void directoryGrantsFailoverAndSweepsExpired() {
    LeaseDirectory leases = new LeaseDirectory(new AdaptiveTtl(10, 600, 10, 50, 300));
    assertEquals(10, leases.renew(1, 0));
    leases.grantFailover(2, 0);
    assertEquals(1, leases.takeExpired(21_000).size(), "node 1 expired after 10 + 10 s");
    assertTrue(leases.get(2).isPresent(), "failover lease lives 300 + 10 s");
    assertEquals(1, leases.takeExpired(311_000).size());
  }
}
