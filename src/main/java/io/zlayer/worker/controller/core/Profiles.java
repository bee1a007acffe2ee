package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.proto.WorkerProfile;

/** The worker profile's JSON form (seed 001's {@code WorkerProfile}) and its validation. */
public final class Profiles {
  private static final int MAX_LABELS = 64;
  private static final int MAX_LABEL_KEY = 63;
  private static final int MAX_LABEL_VALUE = 253;
  private static final int MAX_FIELD = 255;

  private Profiles() {
  }

  public static JsonObject toJson(WorkerProfile profile) {
    JsonObject labels = new JsonObject();
    profile.getLabelsMap().forEach(labels::put);
    return new JsonObject()
        .put("api_addr", profile.getApiAddr())
        .put("os", profile.getOs())
        .put("arch", profile.getArch())
        .put("labels", labels)
        .put("cpu_total", Integer.toUnsignedLong(profile.getCpuTotal()))
        .put("memory_total_bytes", profile.getMemoryTotalBytes());
  }

  /** Throws INVALID_ARGUMENT naming the first field that is wrong. */
  public static void validate(JsonObject profile) {
    if (profile == null) {
      throw ControlPlaneException.invalidArgument("profile is required");
    }
    for (String field : new String[] {"os", "arch"}) {
      Object value = profile.getValue(field);
      if (!(value instanceof String s) || s.isBlank()) {
        throw ControlPlaneException.invalidArgument("profile." + field + " is required");
      }
      if (s.length() > MAX_FIELD) {
        throw ControlPlaneException.invalidArgument("profile." + field + " is too long");
      }
    }
    ProfileFields.validateOptional(profile);
    Object labels = profile.getValue("labels");
    if (labels != null && !(labels instanceof JsonObject)) {
      throw ControlPlaneException.invalidArgument("profile.labels must be an object of strings");
    }
    JsonObject map = labels == null ? new JsonObject() : (JsonObject) labels;
    if (map.size() > MAX_LABELS) {
      throw ControlPlaneException.invalidArgument("profile.labels has more than " + MAX_LABELS + " entries");
    }
    for (String key : map.fieldNames()) {
      if (key.isEmpty() || key.length() > MAX_LABEL_KEY) {
        throw ControlPlaneException.invalidArgument("profile.labels key '" + key + "' must be 1-"
            + MAX_LABEL_KEY + " characters");
      }
      if (!(map.getValue(key) instanceof String v) || v.length() > MAX_LABEL_VALUE) {
        throw ControlPlaneException.invalidArgument("profile.labels." + key + " must be a string of at most "
            + MAX_LABEL_VALUE + " characters");
      }
    }
  }
}
