package io.zlayer.worker.controller.cluster;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.Compare;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import io.zlayer.worker.store.etcd.EtcdStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * The worker CA shared by every controller of a cluster on etcd. The first controller creates
 * it and records its fingerprint ({@code meta/ca_sha256}); the others must be given the same
 * {@code ca.pem}/{@code ca-key.pem} (copied, as kubeadm control-plane nodes share certificates)
 * and refuse to start with another one, or with none: a second CA would split the cluster.
 * On the embedded store the CA is simply loaded or created.
 */
public final class ClusterCa {
  static final String CA_KEY = "meta/ca_sha256";

  private ClusterCa() {
  }

  /** The cluster's CA, deciding certificate validity by {@code clock} (the controller's). */
  public static Future<WorkerCa> loadOrCreate(Vertx vertx, Store store, Path caDir, String clusterId, Clock clock) {
    if (!(store instanceof EtcdStore)) {
      return vertx.executeBlocking(() -> WorkerCa.loadOrCreate(caDir, clusterId, clock));
    }
    return recorded(store).compose(known -> vertx.executeBlocking(() -> {
      if (known.isPresent() && !Files.exists(caDir.resolve(WorkerCa.CA_CERT_FILE))
          && !Files.exists(caDir.resolve(WorkerCa.CA_KEY_FILE))) {
        throw new ClusterRefusal("cluster " + clusterId + " already has a worker CA (sha256 " + known.get()
            + ") and worker_ca_dir " + caDir + " holds none: copy " + WorkerCa.CA_CERT_FILE + " and "
            + WorkerCa.CA_KEY_FILE + " from a running controller's worker_ca_dir into " + caDir
            + " (key mode 0600); a controller never creates a second CA for a cluster");
      }
      return WorkerCa.loadOrCreate(caDir, clusterId, clock);
    }).compose(ca -> known.isPresent() ? check(ca, known.get(), caDir)
        : store.txn(List.of(Compare.absent(CA_KEY)), List.of(Op.put(CA_KEY,
                new JsonObject().put("ca_sha256", ca.caSha256()).encode())))
            .compose(r -> r.succeeded() ? Future.succeededFuture(ca)
                : recorded(store).compose(now -> check(ca, now.orElseThrow(), caDir)))));
  }

  private static Future<Optional<String>> recorded(Store store) {
    return store.get(CA_KEY).map(kv -> kv.map(v -> new JsonObject(v.value()).getString("ca_sha256")));
  }

  private static Future<WorkerCa> check(WorkerCa ca, String clusterSha, Path caDir) {
    if (ca.caSha256().equals(clusterSha)) {
      return Future.succeededFuture(ca);
    }
    return Future.failedFuture(new ClusterRefusal("the worker CA in " + caDir + " (sha256 " + ca.caSha256()
        + ") is not the cluster's (sha256 " + clusterSha + "): copy " + WorkerCa.CA_CERT_FILE + " and "
        + WorkerCa.CA_KEY_FILE + " from a running controller's worker_ca_dir"));
  }
}
