package io.zlayer.worker.bus;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.ScaleAssignment;
import io.zlayer.worker.proto.ServiceSpec;

/**
 * The one JSON shape of assignment events and commands, shared by the store, the event bus,
 * the legacy HTTP API and the bridges, and its mapping to and from the protobuf messages.
 *
 * <p>Assignment: {@code {revision, kind: "set"|"delete"|"drain"|"undrain", service?, assignments?: [{role,
 * indices}], spec?: {command, env}}}, or {@code {revision, kind: "resync", services: [set bodies], draining}}
 * (the whole desired state, when the events asked for fell out of the history window). Command: {@code {id, kind: "drain"|"push_config"|"shutdown",
 * deadline_secs?, version?, yaml?, reason?}}.
 */
public final class Events {
  public static final String SET = "set";
  public static final String DELETE = "delete";
  public static final String DRAIN = "drain";
  public static final String UNDRAIN = "undrain";
  /** The node's whole desired state, in place of events that fell out of the history window. */
  public static final String RESYNC = "resync";
  public static final String PUSH_CONFIG = "push_config";
  public static final String SHUTDOWN = "shutdown";

  private Events() {
  }

  // ---- assignments ----

  public static JsonObject set(String service, JsonArray assignments, JsonObject spec) {
    return new JsonObject().put("kind", SET).put("service", service).put("assignments", assignments)
        .put("spec", spec);
  }

  public static JsonObject delete(String service) {
    return new JsonObject().put("kind", DELETE).put("service", service);
  }

  public static JsonObject drain() {
    return new JsonObject().put("kind", DRAIN);
  }

  public static JsonObject undrain() {
    return new JsonObject().put("kind", UNDRAIN);
  }

  /**
   * The whole desired state {@code services} (service name to its set body) and {@code draining},
   * as one resync event body.
   */
  public static JsonObject resync(java.util.Map<String, JsonObject> services, boolean draining) {
    JsonArray list = new JsonArray();
    new java.util.TreeMap<>(services).forEach((name, set) -> list.add(set(name,
        set.getJsonArray("assignments", new JsonArray()), set.getJsonObject("spec", new JsonObject()))));
    return new JsonObject().put("kind", RESYNC).put("services", list).put("draining", draining);
  }

  public static AssignmentEvent assignmentToProto(long revision, JsonObject body) {
    AssignmentEvent.Builder event = AssignmentEvent.newBuilder().setRevision(revision);
    switch (body.getString("kind", "")) {
      case SET -> event.setSet(setToProto(body));
      case RESYNC -> {
        AssignmentEvent.Resync.Builder resync = AssignmentEvent.Resync.newBuilder()
            .setDraining(body.getBoolean("draining", false));
        for (Object o : body.getJsonArray("services", new JsonArray())) {
          resync.addServices(setToProto((JsonObject) o));
        }
        event.setResync(resync);
      }
      case DELETE -> event.setDelete(AssignmentEvent.Delete.newBuilder().setService(body.getString("service")));
      case DRAIN -> event.setDrain(AssignmentEvent.Drain.getDefaultInstance());
      case UNDRAIN -> event.setUndrain(AssignmentEvent.Undrain.getDefaultInstance());
      default -> throw new IllegalArgumentException("unknown assignment kind " + body.getString("kind"));
    }
    return event.build();
  }

  private static AssignmentEvent.Set setToProto(JsonObject body) {
    AssignmentEvent.Set.Builder set = AssignmentEvent.Set.newBuilder().setService(body.getString("service"));
    for (Object o : body.getJsonArray("assignments", new JsonArray())) {
      JsonObject a = (JsonObject) o;
      ScaleAssignment.Builder sa = ScaleAssignment.newBuilder().setRole(a.getString("role", "default"));
      a.getJsonArray("indices", new JsonArray()).forEach(i -> sa.addIndices(((Number) i).intValue()));
      set.addAssignments(sa);
    }
    JsonObject spec = body.getJsonObject("spec", new JsonObject());
    ServiceSpec.Builder s = ServiceSpec.newBuilder().setCommand(spec.getString("command", ""));
    spec.getJsonObject("env", new JsonObject()).forEach(e -> s.putEnv(e.getKey(), String.valueOf(e.getValue())));
    return set.setSpec(s).build();
  }

  private static JsonObject setToJson(AssignmentEvent.Set event) {
    JsonArray assignments = new JsonArray();
    for (ScaleAssignment a : event.getAssignmentsList()) {
      assignments.add(new JsonObject().put("role", a.getRole())
          .put("indices", new JsonArray(a.getIndicesList().stream().map(i -> (Object) i).toList())));
    }
    ServiceSpec spec = event.getSpec();
    return set(event.getService(), assignments,
        new JsonObject().put("command", spec.getCommand()).put("env", new JsonObject(new java.util.HashMap<>(spec.getEnvMap()))));
  }

  public static JsonObject assignmentToJson(AssignmentEvent event) {
    JsonObject json = switch (event.getEventCase()) {
      case SET -> setToJson(event.getSet());
      case RESYNC -> {
        JsonArray services = new JsonArray();
        event.getResync().getServicesList().forEach(s -> services.add(setToJson(s)));
        yield new JsonObject().put("kind", RESYNC).put("services", services).put("draining", event.getResync().getDraining());
      }
      case DELETE -> delete(event.getDelete().getService());
      case DRAIN -> drain();
      case UNDRAIN -> undrain();
      default -> throw new IllegalArgumentException("assignment event " + event.getRevision() + " has no event");
    };
    return json.put("revision", event.getRevision());
  }

  // ---- commands ----

  public static JsonObject drainCommand(long deadlineSecs) {
    return new JsonObject().put("kind", DRAIN).put("deadline_secs", deadlineSecs);
  }

  public static JsonObject pushConfig(long version, String yaml) {
    return new JsonObject().put("kind", PUSH_CONFIG).put("version", version).put("yaml", yaml);
  }

  public static JsonObject shutdown(String reason) {
    return new JsonObject().put("kind", SHUTDOWN).put("reason", reason);
  }

  public static CommandEvent commandToProto(long id, JsonObject body) {
    CommandEvent.Builder command = CommandEvent.newBuilder().setId(id).setResync(body.getBoolean(RESYNC, false));
    switch (body.getString("kind", "")) {
      case DRAIN -> command.setDrain(CommandEvent.Drain.newBuilder()
          .setDeadlineSecs(body.getLong("deadline_secs", 0L).intValue()));
      case PUSH_CONFIG -> command.setPushConfig(CommandEvent.PushConfig.newBuilder()
          .setVersion(body.getLong("version", 0L)).setYaml(body.getString("yaml", "")));
      case SHUTDOWN -> command.setShutdown(CommandEvent.Shutdown.newBuilder()
          .setReason(body.getString("reason", "")));
      default -> throw new IllegalArgumentException("unknown command kind " + body.getString("kind"));
    }
    return command.build();
  }

  public static JsonObject commandToJson(CommandEvent command) {
    JsonObject json = switch (command.getCommandCase()) {
      case DRAIN -> drainCommand(command.getDrain().getDeadlineSecs());
      case PUSH_CONFIG -> pushConfig(command.getPushConfig().getVersion(), command.getPushConfig().getYaml());
      case SHUTDOWN -> shutdown(command.getShutdown().getReason());
      default -> throw new IllegalArgumentException("command " + command.getId() + " has no command");
    };
    if (command.getResync()) {
      json.put(RESYNC, true);
    }
    return json.put("id", command.getId());
  }
}
