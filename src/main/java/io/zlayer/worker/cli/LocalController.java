package io.zlayer.worker.cli;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the operator tools find the controller this user started last, when they are run from
 * another directory than the controller (no {@code -c}, no {@code conf/controller.yaml} here):
 * {@code ~/.zlayer/controller.json} (or {@code $ZLAYER_STATE_DIR/controller.json}) holds its
 * absolute {@code data_dir}, {@code bridge_port} and {@code operator_http_addr}, nothing secret (the admin token stays in the
 * data dir, mode 0600). Written by {@code controller} and {@code dev} once started, removed on a
 * clean stop.
 */
final class LocalController {
  private static final String FILE = "controller.json";

  private LocalController() {
  }

  static Path file() {
    String dir = System.getenv("ZLAYER_STATE_DIR");
    return (dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home"), ".zlayer") : Path.of(dir))
        .resolve(FILE);
  }

  /** Records a started controller (best effort: a read-only home only costs the fallback). */
  static void record(ControllerOptions options) {
    try {
      JsonObject json = new JsonObject()
          .put("data_dir", options.dataDir().toAbsolutePath().normalize().toString())
          .put("bridge_port", options.bridgePort())
          .put("operator_http_addr", options.operatorHttpAddr().toString())
          .put("pid", ProcessHandle.current().pid());
      SecureFiles.writePrivate(file(), json.encodePrettily() + "\n");
    } catch (IOException | RuntimeException e) {
      System.err.println("note: could not record the controller in " + file() + ": " + e.getMessage());
    }
  }

  /** Removes the record if it is this process's. */
  static void forget() {
    try {
      Optional<JsonObject> json = read();
      if (json.isPresent() && json.get().getLong("pid", -1L) == ProcessHandle.current().pid()) {
        Files.deleteIfExists(file());
      }
    } catch (IOException | RuntimeException ignored) {
      // best effort on the way out
    }
  }

  /** The recorded controller's options, if a record exists and its process is still running. */
  static Optional<ControllerOptions> running() {
    return read().filter(json -> ProcessHandle.of(json.getLong("pid", -1L)).map(ProcessHandle::isAlive).orElse(false))
        .flatMap(json -> recorded());
  }

  /** The recorded controller's options (data_dir and bridge_port), if a record exists. */
  static Optional<ControllerOptions> recorded() {
    return read().map(json -> {
      JsonObject options = new JsonObject().put("data_dir", json.getString("data_dir"))
          .put("bridge_port", json.getInteger("bridge_port"));
      if (json.getString("operator_http_addr") != null) {
        options.put("operator_http_addr", json.getString("operator_http_addr"));
      }
      return ControllerOptions.fromJson(options);
    });
  }

  private static Optional<JsonObject> read() {
    Path f = file();
    if (!Files.isReadable(f)) {
      return Optional.empty();
    }
    try {
      return Optional.of(new JsonObject(Files.readString(f)));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
