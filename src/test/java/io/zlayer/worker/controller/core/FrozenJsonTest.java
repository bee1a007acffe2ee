package io.zlayer.worker.controller.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class FrozenJsonTest {
  private static JsonObject profile() {
    return new JsonObject().put("api_addr", "10.0.0.7:7000").put("os", new String("linux")).put("arch", "x86_64")
        .put("labels", new JsonObject().put("zone", "a").put("tier", "web")).put("cpu_total", 8L)
        .put("memory_total_bytes", 1L << 34);
  }

  @Test
  void readsEncodesAndCopiesAsTheOriginalInItsOrder() {
    JsonObject frozen = FrozenJson.freeze(profile());
    assertEquals(profile().encode(), frozen.encode(), "same fields, same order");
    assertEquals(profile(), frozen);
    assertEquals("web", frozen.getJsonObject("labels").getString("tier"));
    assertEquals(8L, frozen.getLong("cpu_total"));
    assertSame("linux", frozen.getString("os"), "a common value is shared");
    assertSame(frozen, FrozenJson.freeze(frozen));
    String stored = new NodeRecord(1, NodeState.READY, profile(), null, null, 0, 0, "grpc", "registered", null, null, 0)
        .toJson().encode();
    assertEquals(frozen, NodeRecord.fromJson(new JsonObject(stored), 0).profile(), "through the store and back");
    JsonObject copy = frozen.copy().put("os", "freebsd");
    assertEquals("freebsd", copy.getString("os"));
  }

  @Test
  void changingItThrows() {
    JsonObject frozen = FrozenJson.freeze(profile());
    assertThrows(UnsupportedOperationException.class, () -> frozen.put("os", "freebsd"));
    assertThrows(UnsupportedOperationException.class, () -> frozen.getJsonObject("labels").put("zone", "b"));
    assertThrows(UnsupportedOperationException.class, () -> frozen.remove("os"));
  }
}
