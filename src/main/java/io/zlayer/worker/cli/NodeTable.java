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
      if (!(o instanceof JsonObject n)) {
        continue;
      }
      // Records written by older or legacy workers may lack any field, or hold null or another type.
      JsonObject labels = n.getValue("labels") instanceof JsonObject l ? l : new JsonObject();
      JsonArray containers = n.getValue("containers") instanceof JsonArray c ? c : new JsonArray();
      long running = containers.stream()
          .filter(c -> c instanceof JsonObject co && "running".equals(co.getValue("state"))).count();
      rows.add(new String[] {
          text(n, "node_id", "?"),
          text(n, "state", "?"),
          text(n, "os", "?") + "/" + text(n, "arch", "?"),
          labels.isEmpty() ? "-" : labels.stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(",")),
          text(n, "last_heartbeat", "-"),
          text(n, "cert_not_after", "-"),
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

  /** A field as text: absent or null is {@code missing}, any other type its JSON text. */
  private static String text(JsonObject n, String field, String missing) {
    Object value = n.getValue(field);
    return value == null ? missing : value instanceof String s ? (s.isEmpty() ? missing : s) : String.valueOf(value);
  }
}
