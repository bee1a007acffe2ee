package io.zlayer.worker.store.etcd;

import static io.zlayer.worker.store.StoreContractTest.await;
import static io.zlayer.worker.store.StoreContractTest.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.store.etcd.v3electionpb.LeaderKey;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The small lease and election APIs that controller membership and leadership build on. */
@ExtendWith(VertxExtension.class)
class EtcdLeasesAndElectionTest {
  static EtcdServer etcd;
  Vertx vertx;
  EtcdStore store;

  @BeforeAll
  static void startEtcd() throws Exception {
    etcd = new EtcdServer().start();
  }

  @AfterAll
  static void stopEtcd() throws Exception {
    etcd.close();
  }

  @BeforeEach
  void open(Vertx vertx) {
    this.vertx = vertx;
    store = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
  }

  @AfterEach
  void close() {
    await(store.close());
  }

  @Test
  void aKeptAliveLeaseOutlivesItsTtlAndRevokingItDeletesItsKeys() throws Exception {
    EtcdLeases leases = store.leases();
    long kept = await(leases.grant(1));
    long dropped = await(leases.grant(1));
    await(store.put("lease/kept", "k", kept));
    await(store.put("lease/dropped", "d", dropped));
    EtcdLeases.KeepAlive k = leases.keepAlive(kept, 1);
    // Wait past both TTLs on a timer (the thing under test is time itself).
    Promise<Void> later = Promise.promise();
    vertx.setTimer(2_500, t -> later.complete());
    await(later.future());
    assertTrue(await(store.get("lease/kept")).isPresent(), "kept alive past its 1 s TTL");
    assertTrue(await(store.get("lease/dropped")).isEmpty(), "the other lease expired and took its key");
    assertEquals(-1L, await(leases.timeToLive(dropped)));
    assertFalse(k.lost().isComplete());

    await(leases.revoke(kept));
    assertTrue(await(store.get("lease/kept")).isEmpty(), "revoke deletes the lease's keys");
    k.lost().await(5, TimeUnit.SECONDS); // the keep-alive hears the lease is gone
    k.cancel();
    assertInstanceOf(EtcdException.class, failure(store.put("lease/late", "x", kept)), "a revoked lease is refused");
  }

  @Test
  void oneLeaderAtATimeAndTheNextTakesOverOnResign() throws Exception {
    EtcdElection election = store.election();
    assertEquals(Optional.empty(), await(election.leader("ctl")));
    long la = await(store.leases().grant(10));
    long lb = await(store.leases().grant(10));
    List<String> observed = new CopyOnWriteArrayList<>();
    Promise<Void> sawB = Promise.promise();
    EtcdElection.Observation obs = election.observe("ctl", v -> {
      observed.add(v);
      if (v.equals("b")) {
        sawB.tryComplete();
      }
    });
    LeaderKey a = await(election.campaign("ctl", la, "a"));
    Future<LeaderKey> b = election.campaign("ctl", lb, "b");
    assertEquals(Optional.of("a"), await(election.leader("ctl")));
    assertFalse(b.isComplete(), "b waits while a leads");
    await(election.resign(a));
    await(b);
    assertEquals(Optional.of("b"), await(election.leader("ctl")));
    sawB.future().await(5, TimeUnit.SECONDS);
    assertEquals(List.of("a", "b"), observed);
    obs.cancel();
    await(store.leases().revoke(lb));
    assertEquals(Optional.empty(), await(election.leader("ctl")), "the leader's lease ended: nobody leads");
    await(store.leases().revoke(la));
  }
}
