package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Events;
import java.util.List;

/**
 * The command log's folded history: the node's newest pushed config ({@code {push_config: body}}).
 * Commands are one-shot orders: a drain is also in the assignment log (its resync says
 * {@code draining}), and a shutdown older than the window is stale. A reader from before the
 * window gets the pushed config again, marked {@code resync}, at the base revision.
 */
public final class CommandFold implements NodeEventLog.Fold {
  public static final CommandFold INSTANCE = new CommandFold();

  private CommandFold() {
  }

  @Override
  public JsonObject apply(JsonObject state, NodeEventLog.Entry event) {
    if (Events.PUSH_CONFIG.equals(event.body().getString("kind"))) {
      state.put(Events.PUSH_CONFIG, event.body().copy().put(Events.RESYNC, true));
    }
    return state;
  }

  @Override
  public List<NodeEventLog.Entry> resync(long through, JsonObject state) {
    JsonObject config = state.getJsonObject(Events.PUSH_CONFIG);
    return config == null ? List.of() : List.of(new NodeEventLog.Entry(through, config.copy()));
  }
}
