package io.zlayer.worker.store.etcd;

import static io.zlayer.worker.store.StoreContractTest.await;
import static io.zlayer.worker.store.StoreContractTest.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.StoreUnavailableException;
import io.zlayer.worker.store.WatchEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** https endpoints: the store trusts etcd's CA and presents its client certificate (etcd --client-cert-auth). */
@ExtendWith(VertxExtension.class)
class EtcdTlsTest {

  @Test
  void talksToEtcdOverMutualTls(Vertx vertx, @TempDir Path dir) throws Exception {
    WorkerCa ca = WorkerCa.loadOrCreate(dir.resolve("ca"), "ctls");
    ServerIdentity id = ca.issueServerIdentity(List.of()); // serverAuth and clientAuth, 127.0.0.1
    Path caFile = Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    Path cert = Files.writeString(dir.resolve("etcd.pem"), id.certChainPem());
    Path key = Files.writeString(dir.resolve("etcd-key.pem"), id.keyPem());
    try (EtcdServer etcd = new EtcdServer().withTls(cert, key, caFile).start()) {
      EtcdStoreOptions options = new EtcdStoreOptions(List.of(etcd.endpoint()), "/tls/", caFile, cert, key,
          Duration.ofSeconds(2));
      EtcdStore store = await(EtcdStore.open(vertx, options));
      try {
        Promise<WatchEvent> seen = Promise.promise();
        long from = await(store.revision());
        vertx.getOrCreateContext().runOnContext(v -> store.watch("k", from, seen::tryComplete));
        long rev = await(store.put("k", "v"));
        assertEquals(rev, seen.future().await(10, TimeUnit.SECONDS).kv().modRevision());
        assertEquals("v", await(store.get("k")).orElseThrow().value());
      } finally {
        await(store.close());
      }
      EtcdStoreOptions noClientCert = new EtcdStoreOptions(List.of(etcd.endpoint()), "/tls/", caFile, null, null,
          Duration.ofSeconds(2));
      assertInstanceOf(StoreUnavailableException.class, failure(EtcdStore.open(vertx, noClientCert)),
          "etcd refuses a client without a certificate");
    }
  }
}
