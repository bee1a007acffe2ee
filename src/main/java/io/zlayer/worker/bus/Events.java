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
 * indices}], spec?: {command, env}}}. Command: {@code {id, kind: "drain"|"push_config"|"shutdown",
 * deadline_secs?, version?, yaml?, reason?}}.
 */
public final class Events {
  public static final String SET = "set";
  public static final String DELETE = "delete";
  public static final String DRAIN = "drain";
  public static final String UNDRAIN = "undrain";
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

  public static AssignmentEvent assignmentToProto(long revision, JsonObject body) {
    AssignmentEvent.Builder event = AssignmentEvent.newBuilder().setRevision(revision);
    switch (body.getString("kind", "")) {
      case SET -> {
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
        event.setSet(set.setSpec(s));
      }
      case DELETE -> event.setDelete(AssignmentEvent.Delete.newBuilder().setService(body.getString("service")));
      case DRAIN -> event.setDrain(AssignmentEvent.Drain.getDefaultInstance());
      case UNDRAIN -> event.setUndrain(AssignmentEvent.Undrain.getDefaultInstance());
      default -> throw new IllegalArgumentException("unknown assignment kind " + body.getString("kind"));
    }
    return event.build();
  }

  public static JsonObject assignmentToJson(AssignmentEvent event) {
    JsonObject json = switch (event.getEventCase()) {
      case SET -> {
        JsonArray assignments = new JsonArray();
        for (ScaleAssignment a : event.getSet().getAssignmentsList()) {
          assignments.add(new JsonObject().put("role", a.getRole())
              .put("indices", new JsonArray(a.getIndicesList().stream().map(i -> (Object) i).toList())));
        }
        ServiceSpec spec = event.getSet().getSpec();
        yield set(event.getSet().getService(), assignments,
            new JsonObject().put("command", spec.getCommand()).put("env", new JsonObject(new java.util.HashMap<>(spec.getEnvMap()))));
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
    CommandEvent.Builder command = CommandEvent.newBuilder().setId(id);
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
    return json.put("id", command.getId());
  }
}
