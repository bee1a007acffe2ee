package io.zlayer.worker.cli;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * One process per data directory: {@code <data_dir>/lock} holds an OS file lock for the life of
 * the process (released by the kernel however the process ends, {@code kill -9} included) and
 * names its holder, so a second controller or worker on the same store and identity is refused
 * with the pid that holds it.
 */
final class DataDirLock {
  static final String FILE = "lock";
  /** The locked channels: referenced for the process's life, else a collected channel drops its lock. */
  private static final java.util.List<FileChannel> HELD = new java.util.concurrent.CopyOnWriteArrayList<>();

  private DataDirLock() {
  }

  /** Locks {@code dataDir} for this process (the lock lives until exit), or throws naming the holder. */
  static void acquire(Path dataDir, String what) throws IOException {
    Path dir = dataDir.toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) {
      SecureFiles.writePrivate(dir.resolve(FILE), "");
    }
    FileChannel channel = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      String holder = describe(channel);
      channel.close();
      throw new Cli.UsageException("data_dir " + dataDir + " is in use by " + holder
          + ": stop that process first, or give this one another data_dir");
    }
    JsonObject me = new JsonObject().put("pid", ProcessHandle.current().pid()).put("command", what)
        .put("started_at", Instant.now().toString());
    channel.truncate(0);
    channel.write(ByteBuffer.wrap((me.encode() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    channel.force(false);
    HELD.add(channel); // open (and locked) until the process exits
  }

  private static String describe(FileChannel channel) {
    try {
      ByteBuffer buf = ByteBuffer.allocate(4096);
      channel.read(buf, 0);
      JsonObject holder = new JsonObject(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).trim());
      return "pid " + holder.getLong("pid") + " (" + holder.getString("command") + ", since "
          + holder.getString("started_at") + ")";
    } catch (IOException | RuntimeException e) {
      return "another process";
    }
  }
}
