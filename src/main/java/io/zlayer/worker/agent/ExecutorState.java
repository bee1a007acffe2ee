package io.zlayer.worker.agent;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the executor remembers across worker runs, in {@code <data_dir>/executor.json}:
 * {@code {draining, services: {name: {assignments: [{role, indices}], spec: {command, env}}},
 * processes: [{service, role, replica, pid, start_millis, start_ticks, spec}]}}. Immutable; built and read on the
 * verticle's context, written and read from disk on worker threads.
 */
record ExecutorState(boolean draining, Map<String, Service> services, List<RecordedProcess> processes,
                     long appliedRevision) {

  static final String FILE_NAME = "executor.json";

  ExecutorState {
    services = Collections.unmodifiableMap(new TreeMap<>(services));
    processes = List.copyOf(processes);
  }

  static ExecutorState empty() {
    return new ExecutorState(false, Map.of(), List.of(), 0);
  }

  /** What a replica runs: {@code /bin/sh -c command} with {@code env} on top of the worker's environment. */
  record Spec(String command, Map<String, String> env) {
    Spec {
      env = Collections.unmodifiableMap(new TreeMap<>(env));
    }

    static Spec fromJson(JsonObject json) {
      JsonObject j = json == null ? new JsonObject() : json;
      Map<String, String> env = new TreeMap<>();
      j.getJsonObject("env", new JsonObject()).forEach(e -> env.put(e.getKey(), String.valueOf(e.getValue())));
      return new Spec(j.getString("command", ""), env);
    }

    JsonObject toJson() {
      return new JsonObject().put("command", command).put("env", new JsonObject(new LinkedHashMap<>(env)));
    }
  }

  /** One desired service: the replica indices per role, all running {@code spec}. */
  record Service(Map<String, SortedSet<Integer>> roles, Spec spec) {
    Service {
      Map<String, SortedSet<Integer>> copy = new TreeMap<>();
      roles.forEach((role, indices) -> copy.put(role, Collections.unmodifiableSortedSet(new TreeSet<>(indices))));
      roles = Collections.unmodifiableMap(copy);
    }

    /** From a set event (or the persisted form): {@code assignments: [{role, indices}]} and {@code spec}. */
    static Service fromJson(JsonArray assignments, JsonObject spec) {
      Map<String, SortedSet<Integer>> roles = new TreeMap<>();
      if (assignments != null) {
        for (Object o : assignments) {
          JsonObject a = (JsonObject) o;
          SortedSet<Integer> indices = roles.computeIfAbsent(a.getString("role", "default"), r -> new TreeSet<>());
          a.getJsonArray("indices", new JsonArray()).forEach(i -> indices.add(((Number) i).intValue()));
        }
      }
      return new Service(roles, Spec.fromJson(spec));
    }

    JsonArray assignmentsJson() {
      JsonArray out = new JsonArray();
      roles.forEach((role, indices) -> out.add(new JsonObject().put("role", role)
          .put("indices", new JsonArray(new ArrayList<>(indices)))));
      return out;
    }
  }

  /**
   * A process started by a run, identified by pid and its {@code /proc} start time in clock ticks
   * (the pid reuse guard; 0 when written by a version that recorded only {@code startMillis}),
   * with the spec it runs ({@code null} when not recorded).
   */
  record RecordedProcess(String service, String role, int replica, long pid, long startMillis, long startTicks,
                         Spec spec) {
    static RecordedProcess fromJson(JsonObject j) {
      JsonObject spec = j.getJsonObject("spec");
      return new RecordedProcess(j.getString("service", ""), j.getString("role", ""), j.getInteger("replica", 0),
          j.getLong("pid", 0L), j.getLong("start_millis", 0L), j.getLong("start_ticks", 0L),
          spec == null ? null : Spec.fromJson(spec));
    }

    JsonObject toJson() {
      JsonObject j = new JsonObject().put("service", service).put("role", role).put("replica", replica)
          .put("pid", pid).put("start_millis", startMillis).put("start_ticks", startTicks);
      return spec == null ? j : j.put("spec", spec.toJson());
    }
  }

  JsonObject toJson() {
    JsonObject s = new JsonObject();
    services.forEach((name, svc) -> s.put(name,
        new JsonObject().put("assignments", svc.assignmentsJson()).put("spec", svc.spec().toJson())));
    JsonArray p = new JsonArray();
    processes.forEach(rp -> p.add(rp.toJson()));
    return new JsonObject().put("draining", draining).put("services", s).put("processes", p)
        .put("applied_revision", appliedRevision);
  }

  static ExecutorState fromJson(JsonObject json) {
    Map<String, Service> services = new TreeMap<>();
    json.getJsonObject("services", new JsonObject()).forEach(e -> {
      JsonObject svc = (JsonObject) e.getValue();
      services.put(e.getKey(), Service.fromJson(svc.getJsonArray("assignments"), svc.getJsonObject("spec")));
    });
    List<RecordedProcess> processes = new ArrayList<>();
    json.getJsonArray("processes", new JsonArray()).forEach(o -> processes.add(RecordedProcess.fromJson((JsonObject) o)));
    return new ExecutorState(json.getBoolean("draining", false), services, processes,
        json.getLong("applied_revision", 0L));
  }

  /** Blocking: reads the file, or the empty state when there is none. */
  static ExecutorState load(Path file) throws java.io.IOException {
    if (!Files.exists(file)) {
      return empty();
    }
    String text = Files.readString(file);
    return text.isBlank() ? empty() : fromJson(new JsonObject(text));
  }
}
