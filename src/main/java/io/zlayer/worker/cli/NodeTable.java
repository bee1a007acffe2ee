package io.zlayer.worker.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** {@code bin/worker nodes} as a table. */
final class NodeTable {
  private static final String[] HEADER = {"ID", "STATE", "OS/ARCH", "LABELS", "LAST HEARTBEAT", "CERT EXPIRES", "REPLICAS"};

  private NodeTable() {
  }

  static String render(JsonArray nodes) {
    List<String[]> rows = new ArrayList<>();
    rows.add(HEADER);
    for (Object o : nodes) {
      JsonObject n = (JsonObject) o;
      JsonObject labels = n.getJsonObject("labels", new JsonObject());
      JsonArray containers = n.getJsonArray("containers", new JsonArray());
      long running = containers.stream().filter(c -> "running".equals(((JsonObject) c).getString("state"))).count();
      rows.add(new String[] {
          String.valueOf(n.getLong("node_id")),
          n.getString("state", "?"),
          n.getString("os", "?") + "/" + n.getString("arch", "?"),
          labels.isEmpty() ? "-" : labels.stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(",")),
          n.getString("last_heartbeat", "-"),
          n.getString("cert_not_after", "-"),
          containers.isEmpty() ? "-" : running + "/" + containers.size() + " running"
      });
    }
    int[] widths = new int[HEADER.length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        out.append(i == row.length - 1 ? row[i] : String.format("%-" + (widths[i] + 2) + "s", row[i]));
      }
      out.append('\n');
    }
    if (nodes.isEmpty()) {
      out.append("(no nodes yet: mint a token with `bin/worker token create` and start a worker)\n");
    }
    return out.toString();
  }
}
