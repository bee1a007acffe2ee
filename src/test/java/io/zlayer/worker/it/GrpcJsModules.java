package io.zlayer.worker.it;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Node gRPC client the grpc-js tests run ({@code @grpc/grpc-js} and {@code @grpc/proto-loader}),
 * installed with npm from the registry into a cache directory shared by every checkout
 * ({@code ~/.cache/zlayer/grpcjs}, or {@code -Dzlayer.grpcjs.cache}), once: a later run finds the
 * pinned versions there and does not call npm. {@code -Dzlayer.grpcjs.modules=<node_modules>}
 * names a ready directory instead. Concurrent builds take a file lock around the install.
 */
final class GrpcJsModules {
  /** The client of issue 14, item 13 (grpc-js 1.14), pinned so every run tests the same client. */
  static final String GRPC_JS = "1.14.7";
  static final String PROTO_LOADER = "0.8.1";
  private static final long NPM_TIMEOUT_SECS = 180;

  /** Where the modules are, or why they are not (so a test can skip with that reason). */
  record Found(Path modules, String whyNot) {
    boolean ok() {
      return modules != null;
    }
  }

  private GrpcJsModules() {
  }

  static synchronized Found ensure() {
    String given = System.getProperty("zlayer.grpcjs.modules");
    if (given != null) {
      Path modules = Path.of(given);
      return Files.isDirectory(modules.resolve("@grpc/grpc-js")) ? new Found(modules, null)
          : new Found(null, "-Dzlayer.grpcjs.modules=" + given + " holds no @grpc/grpc-js");
    }
    Path cache = Path.of(System.getProperty("zlayer.grpcjs.cache",
        Path.of(System.getProperty("user.home"), ".cache", "zlayer", "grpcjs").toString()));
    Path modules = cache.resolve("node_modules");
    try {
      Files.createDirectories(cache);
      try (FileChannel lockFile = FileChannel.open(cache.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
           FileLock lock = lockFile.lock()) {
        if (installed(modules)) {
          return new Found(modules, null);
        }
        Files.writeString(cache.resolve("package.json"), "{\"name\":\"zlayer-grpcjs-tests\",\"private\":true,"
            + "\"dependencies\":{\"@grpc/grpc-js\":\"" + GRPC_JS + "\",\"@grpc/proto-loader\":\"" + PROTO_LOADER + "\"}}\n");
        Path log = cache.resolve("npm-install.log");
        // --ignore-scripts: protobufjs's postinstall only prints a notice; nothing is built.
        Process npm = new ProcessBuilder("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
            "--no-package-lock", "--prefix", cache.toString())
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!npm.waitFor(NPM_TIMEOUT_SECS, TimeUnit.SECONDS)) {
          npm.destroyForcibly();
          return new Found(null, "npm install of @grpc/grpc-js did not finish in " + NPM_TIMEOUT_SECS + " s (offline?); log: " + log);
        }
        if (npm.exitValue() != 0 || !installed(modules)) {
          return new Found(null, "npm install of @grpc/grpc-js " + GRPC_JS + " failed (exit " + npm.exitValue()
              + ", offline or no registry?): " + tail(log));
        }
        return new Found(modules, null);
      }
    } catch (IOException e) {
      return new Found(null, "cannot install @grpc/grpc-js with npm: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Found(null, "interrupted while installing @grpc/grpc-js");
    }
  }

  private static boolean installed(Path modules) throws IOException {
    return GRPC_JS.equals(version(modules.resolve("@grpc/grpc-js/package.json")))
        && PROTO_LOADER.equals(version(modules.resolve("@grpc/proto-loader/package.json")));
  }

  private static String version(Path packageJson) throws IOException {
    if (!Files.isRegularFile(packageJson)) {
      return null;
    }
    Matcher m = Pattern.compile("\"version\"\\s*:\\s*\"([^\"]+)\"").matcher(Files.readString(packageJson));
    return m.find() ? m.group(1) : null;
  }

  private static String tail(Path log) throws IOException {
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
  }
}
