package io.zlayer.worker.pki;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Owns writing secret material to disk: owner-only permissions and atomic replacement. */
public final class SecureFiles {
  private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
  private static final String TEMP_SUFFIX = ".tmp";

  private SecureFiles() {}

  /**
   * Writes the file atomically with mode 0600. The temp file lives in the same directory (so the
   * move is a rename) and gets its mode before any byte is written, so the secret is never readable
   * by others, and readers see either the old or the new content, never a partial file.
   */
  public static void writePrivate(Path file, byte[] content) throws IOException {
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    boolean posix = target.getFileSystem().supportedFileAttributeViews().contains("posix");
    createDirectories(dir, posix);

    Path temp = posix
        ? Files.createTempFile(dir, "." + target.getFileName(), TEMP_SUFFIX, asAttribute(FILE_MODE))
        : Files.createTempFile(dir, "." + target.getFileName(), TEMP_SUFFIX);
    try {
      if (posix) {
        // The create-time attribute is filtered by umask; set the exact mode explicitly before writing.
        Files.setPosixFilePermissions(temp, FILE_MODE);
      }
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        // Durable before the rename, so a crash cannot leave an empty file under the final name.
        ch.force(true);
      }
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(temp);
      throw e;
    }
  }

  /** UTF-8 variant of {@link #writePrivate(Path, byte[])}. */
  public static void writePrivate(Path file, String content) throws IOException {
    writePrivate(file, content.getBytes(StandardCharsets.UTF_8));
  }

  /** Creates missing directories with mode 0700 (on POSIX file systems); existing directories are left as they are. */
  public static void createPrivateDirectories(Path dir) throws IOException {
    createDirectories(dir, dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
  }

  /** Creates missing directories with mode 0700; existing directories are left as they are. */
  static void createDirectories(Path dir, boolean posix) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    if (posix) {
      Files.createDirectories(dir, asAttribute(DIR_MODE));
      Files.setPosixFilePermissions(dir, DIR_MODE);
    } else {
      Files.createDirectories(dir);
    }
  }

  private static FileAttribute<Set<PosixFilePermission>> asAttribute(Set<PosixFilePermission> mode) {
    return PosixFilePermissions.asFileAttribute(mode);
  }

  /**
   * Reads a file that holds a secret. If others than its owner may read it (restored from a
   * backup, created by hand), it is put back to mode 0600 and a warning names it.
   */
  public static String readPrivate(Path file) throws IOException {
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(file);
    java.util.Set<java.nio.file.attribute.PosixFilePermission> owner = java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
    if (!owner.containsAll(perms)) {
      org.slf4j.LoggerFactory.getLogger(SecureFiles.class).warn("{} was readable by others ({}); set it to rw-------",
          file, java.nio.file.attribute.PosixFilePermissions.toString(perms));
      Files.setPosixFilePermissions(file, owner);
    }
    return Files.readString(file);
  }
}
