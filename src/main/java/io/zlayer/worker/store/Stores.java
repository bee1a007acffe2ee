package io.zlayer.worker.store;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.zlayer.worker.config.StoreOptions;
import io.zlayer.worker.store.etcd.EtcdStore;
import io.zlayer.worker.store.etcd.EtcdStoreOptions;
import java.nio.file.Path;

/** Opens the store the configuration names: embedded under {@code dir}, or etcd. */
public final class Stores {
  private Stores() {}

  public static Future<Store> open(Vertx vertx, StoreOptions options, Path dir) {
    if (options.embedded()) {
      return EmbeddedStore.open(vertx, dir).map(s -> s);
    }
    StoreOptions.Tls tls = options.tls();
    return EtcdStore.open(vertx, new EtcdStoreOptions(options.endpoints(), options.prefix(),
        tls == null ? null : tls.caFile(), tls == null ? null : tls.certFile(), tls == null ? null : tls.keyFile(),
        EtcdStoreOptions.DEFAULT_REQUEST_TIMEOUT)).map(s -> s);
  }
}
