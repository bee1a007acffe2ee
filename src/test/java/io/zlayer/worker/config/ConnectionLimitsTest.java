package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The connection limits' config keys: defaults, validation naming the key, round trip. */
class ConnectionLimitsTest {
  @Test
  void defaultsAndRoundTrip() {
    ControllerOptions options = ControllerOptions.fromJson(new JsonObject());
    assertEquals(ConnectionLimits.DEFAULTS, options.connections());
    ControllerOptions set = ControllerOptions.fromJson(new JsonObject().put("connection_idle_timeout", "90s")
        .put("tls_handshake_timeout", "5s").put("http_request_timeout", "250ms").put("http2_max_concurrent_streams", 64)
        .put("max_held_polls", 5).put("max_connections", 7));
    assertEquals(new ConnectionLimits(Duration.ofSeconds(90), Duration.ofSeconds(5), Duration.ofMillis(250), 64, 5, 7),
        set.connections());
    assertEquals(set, ControllerOptions.fromJson(set.toJson()));
  }

  @Test
  void badValuesNameTheKey() {
    for (var bad : new JsonObject[] {
        new JsonObject().put("connection_idle_timeout", "0s"),
        new JsonObject().put("tls_handshake_timeout", "2d"),
        new JsonObject().put("http_request_timeout", "soon"),
        new JsonObject().put("http2_max_concurrent_streams", 2),
        new JsonObject().put("http2_max_concurrent_streams", "many"),
        new JsonObject().put("max_held_polls", 0),
        new JsonObject().put("max_held_polls", 1.5),
        new JsonObject().put("max_connections", 0)}) {
      ConfigException e = assertThrows(ConfigException.class, () -> ControllerOptions.fromJson(bad));
      assertTrue(e.getMessage().startsWith(bad.fieldNames().iterator().next() + ":"), e.getMessage());
    }
  }
}
