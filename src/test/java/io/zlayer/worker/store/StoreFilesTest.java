package io.zlayer.worker.store;

import static io.zlayer.worker.store.EmbeddedStoreTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14 item 9: the store directory is 0700 and state.db, -wal, -shm are 0600, also after an upgrade. */
@ExtendWith(VertxExtension.class)
class StoreFilesTest {
  @TempDir
  Path dir;

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  @Test
  void newStoreFilesArePrivate(Vertx vertx) throws Exception {
    Path storeDir = dir.resolve("data").resolve("store");
    EmbeddedStore store = await(EmbeddedStore.open(vertx, storeDir));
    try {
      await(store.txn(List.of(Compare.absent("k")), List.of(Op.put("k", "{\"env\":{\"SECRET\":\"x\"}}"))));
      assertEquals("rwx------", mode(storeDir));
      assertEquals("rwx------", mode(storeDir.getParent()));
      for (String f : new String[] {"state.db", "state.db-wal", "state.db-shm"}) {
        assertTrue(Files.exists(storeDir.resolve(f)), f);
        assertEquals("rw-------", mode(storeDir.resolve(f)), f);
      }
    } finally {
      await(store.close());
    }
  }

  @Test
  void filesLeftOpenByAnOlderVersionAreNarrowed(Vertx vertx) throws Exception {
    Path storeDir = dir.resolve("store");
    await(EmbeddedStore.open(vertx, storeDir, false).compose(EmbeddedStore::close));
    Files.setPosixFilePermissions(storeDir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(storeDir.resolve("state.db"), PosixFilePermissions.fromString("rw-r--r--"));
    EmbeddedStore store = await(EmbeddedStore.open(vertx, storeDir));
    try {
      await(store.txn(List.of(), List.of(Op.put("k", "v"))));
      assertEquals("rwx------", mode(storeDir));
      assertEquals("rw-------", mode(storeDir.resolve("state.db")));
      assertEquals("rw-------", mode(storeDir.resolve("state.db-wal")));
    } finally {
      await(store.close());
    }
  }
}
