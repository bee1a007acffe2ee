package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Events;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The assignment log's folded history: a node's desired state, {@code {services: {name: {assignments,
 * spec}}, draining}}. A reader from before the window gets it as one resync event.
 */
public final class AssignmentFold implements NodeEventLog.Fold {
  public static final AssignmentFold INSTANCE = new AssignmentFold();

  private AssignmentFold() {
  }

  @Override
  public JsonObject apply(JsonObject state, NodeEventLog.Entry event) {
    JsonObject body = event.body();
    JsonObject services = state.getJsonObject("services");
    if (services == null) {
      services = new JsonObject();
      state.put("services", services);
    }
    switch (body.getString("kind", "")) {
      case Events.SET -> services.put(body.getString("service"), new JsonObject()
          .put("assignments", body.getJsonArray("assignments")).put("spec", body.getJsonObject("spec")));
      case Events.DELETE -> services.remove(body.getString("service"));
      case Events.DRAIN -> state.put("draining", true);
      case Events.UNDRAIN -> state.put("draining", false);
      case Events.RESYNC -> {
        services.clear();
        for (Object o : body.getJsonArray("services")) {
          JsonObject set = (JsonObject) o;
          services.put(set.getString("service"), new JsonObject()
              .put("assignments", set.getJsonArray("assignments")).put("spec", set.getJsonObject("spec")));
        }
        state.put("draining", body.getBoolean("draining", false));
      }
      default -> { }
    }
    return state;
  }

  @Override
  public List<NodeEventLog.Entry> resync(long through, JsonObject state) {
    return List.of(new NodeEventLog.Entry(through, Events.resync(services(state), state.getBoolean("draining", false))));
  }

  /** The services of a folded state, by name. */
  public static Map<String, JsonObject> services(JsonObject state) {
    Map<String, JsonObject> out = new LinkedHashMap<>();
    state.getJsonObject("services", new JsonObject()).forEach(e -> out.put(e.getKey(), (JsonObject) e.getValue()));
    return out;
  }
}
