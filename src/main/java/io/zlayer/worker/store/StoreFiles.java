package io.zlayer.worker.store;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The embedded store's files are private to the controller's user: assignment {@code env} values
 * may hold secrets. The directory is 0700 and {@code state.db}, {@code -wal} and {@code -shm} are
 * 0600. The database file is created empty at 0600 before SQLite opens it, because SQLite gives its
 * {@code -wal} and {@code -shm} files the database file's mode; existing files (from before this
 * rule) are narrowed on every open.
 */
public final class StoreFiles {
  static final String DB = "state.db";
  private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

  private StoreFiles() {
  }

  /** Creates {@code dir} (0700) and an empty {@code state.db} (0600) if missing; narrows existing ones. */
  static Path prepare(Path dir) throws IOException {
    privateDirectory(dir);
    Path db = dir.resolve(DB);
    if (posix(dir)) {
      try {
        Files.createFile(db, PosixFilePermissions.asFileAttribute(FILE_MODE));
      } catch (FileAlreadyExistsException exists) {
        // opened before: narrowed below
      }
    }
    restrict(dir);
    return db;
  }

  /** Narrows the database files that exist to 0600. */
  static void restrict(Path dir) throws IOException {
    if (!posix(dir)) {
      return;
    }
    for (String name : new String[] {DB, DB + "-wal", DB + "-shm", DB + "-journal"}) {
      Path file = dir.resolve(name);
      if (Files.exists(file)) {
        Files.setPosixFilePermissions(file, FILE_MODE);
      }
    }
  }

  /** Creates {@code dir} and missing parents at 0700, and narrows {@code dir} itself to 0700 if it exists. */
  public static void privateDirectory(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      Path parent = dir.toAbsolutePath().getParent();
      if (parent != null && !Files.exists(parent)) {
        privateDirectory(parent);
      }
      if (posix(parent == null ? dir : parent)) {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIR_MODE));
      } else {
        Files.createDirectory(dir);
      }
    }
    if (posix(dir)) {
      Files.setPosixFilePermissions(dir, DIR_MODE);
    }
  }

  private static boolean posix(Path path) {
    return path.getFileSystem().supportedFileAttributeViews().contains("posix");
  }
}
