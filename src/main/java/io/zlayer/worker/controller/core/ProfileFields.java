package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;

/**
 * The optional fields of a worker profile sent as JSON (the legacy API): each has the type and
 * range of its protobuf field ({@code uint32 cpu_total}, {@code uint64 memory_total_bytes}), so
 * that what the legacy API stores is what the gRPC API could have stored.
 */
final class ProfileFields {
  static final int MAX_API_ADDR = 256;
  /** uint64 in protobuf; a JSON reader only holds a non-negative long. */
  static final long MAX_MEMORY_BYTES = Long.MAX_VALUE;
  static final long MAX_CPUS = 0xFFFF_FFFFL;

  private ProfileFields() {
  }

  static void validateOptional(JsonObject profile) {
    Object addr = profile.getValue("api_addr");
    if (addr != null && (!(addr instanceof String s) || s.length() > MAX_API_ADDR)) {
      throw ControlPlaneException.invalidArgument("profile.api_addr must be a string of at most " + MAX_API_ADDR
          + " characters");
    }
    integer(profile, "cpu_total", MAX_CPUS);
    integer(profile, "memory_total_bytes", MAX_MEMORY_BYTES);
  }

  private static void integer(JsonObject profile, String field, long max) {
    Object value = profile.getValue(field);
    if (value != null) {
      try {
        JsonNumbers.integer(value, 0, max);
      } catch (JsonNumbers.Refused e) {
        throw ControlPlaneException.invalidArgument("profile." + field + " " + e.getMessage());
      }
    }
  }
}
