package io.zlayer.worker.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** Issue 14 item 6: `bin/worker nodes` renders nodes whose profile fields are missing, null or of another type. */
class NodeTableTest {
  @Test
  void nullAbsentAndWrongTypedFieldsRender() {
    JsonArray nodes = new JsonArray()
        .add(new JsonObject().put("node_id", 1).put("state", "ready").put("os", "linux").put("arch", "x86_64")
            .put("labels", new JsonObject().put("zone", "a")).put("containers", new JsonArray()
                .add(new JsonObject().put("state", "running")).add(new JsonObject().put("state", "exited"))))
        .add(new JsonObject().put("node_id", 2).put("state", "ready").putNull("os").putNull("arch").putNull("labels")
            .putNull("last_heartbeat").putNull("cert_not_after").putNull("containers"))
        .add(new JsonObject().put("node_id", 3))
        .add(new JsonObject().putNull("node_id").put("state", 7).put("os", new JsonObject()).put("arch", "")
            .put("labels", "zone=a").put("containers", new JsonArray().add("x").addNull()))
        .add("not an object")
        .addNull();
    String table = NodeTable.render(nodes);
    assertTrue(table.contains("linux/x86_64"), table);
    assertTrue(table.contains("zone=a"), table);
    assertTrue(table.contains("1/2 running"), table);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("2 ") && l.contains("?/?")), table);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("3 ")), table);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("? ") && l.contains("{}/?")), table);
  }
}
