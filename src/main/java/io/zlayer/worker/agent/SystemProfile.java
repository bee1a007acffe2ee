package io.zlayer.worker.agent;

import io.zlayer.worker.proto.WorkerProfile;
import io.zlayer.worker.proto.WorkerResourceUsage;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;

/** What the worker tells the controller about its machine. */
final class SystemProfile {
  private SystemProfile() {
  }

  static WorkerProfile profile(String apiAddr, Map<String, String> labels) {
    return WorkerProfile.newBuilder()
        .setApiAddr(apiAddr == null ? "" : apiAddr)
        .setOs(System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT))
        .setArch(arch())
        .putAllLabels(labels)
        .setCpuTotal(Runtime.getRuntime().availableProcessors())
        .setMemoryTotalBytes(os().map(b -> b.getTotalMemorySize()).orElse(0L))
        .build();
  }

  /** Machine-wide use: cores busy and bytes of memory in use. */
  static WorkerResourceUsage usage() {
    return os().map(b -> WorkerResourceUsage.newBuilder()
            .setCpuUsed(Math.max(0, b.getCpuLoad()) * Runtime.getRuntime().availableProcessors())
            .setMemoryUsedBytes(Math.max(0, b.getTotalMemorySize() - b.getFreeMemorySize()))
            .build())
        .orElse(WorkerResourceUsage.getDefaultInstance());
  }

  /** {@link #usage()} as the executor snapshot's {@code resources} JSON. Blocking (reads /proc). */
  static io.vertx.core.json.JsonObject usageJson() {
    WorkerResourceUsage u = usage();
    return new io.vertx.core.json.JsonObject().put("cpu_used", u.getCpuUsed())
        .put("memory_used_bytes", u.getMemoryUsedBytes()).put("gpu_used", u.getGpuUsed());
  }

  private static String arch() {
    String arch = System.getProperty("os.arch", "unknown");
    return "amd64".equals(arch) ? "x86_64" : arch;
  }

  private static java.util.Optional<com.sun.management.OperatingSystemMXBean> os() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean b
        ? java.util.Optional.of(b) : java.util.Optional.empty();
  }
}
