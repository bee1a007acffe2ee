package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogFormatTest {

  @Test
  void valuesAreCheckedNamingTheKey() {
    assertEquals(LogFormat.TEXT, LogFormat.of(new JsonObject()));
    assertEquals(LogFormat.JSON, LogFormat.of(new JsonObject().put("log_format", "json")));
    ConfigException e = assertThrows(ConfigException.class, () -> LogFormat.of(new JsonObject().put("log_format", "xml")));
    assertTrue(e.getMessage().startsWith("log_format: expected text or json"), e.getMessage());
    assertThrows(ConfigException.class, () -> WorkerOptions.fromJson(new JsonObject()
        .put("servers", new io.vertx.core.json.JsonArray().add("127.0.0.1:1")).put("log_formats", "json")));
  }

  @Test
  void jsonLinesThenBackToIsoText() {
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      LogFormat.JSON.apply();
      LoggerFactory.getLogger("probe").info("node {} registered", 7);
      LogFormat.TEXT.apply();
      LoggerFactory.getLogger("probe").info("node {} left", 7);
    } finally {
      LogFormat.TEXT.apply();
      System.setErr(saved);
    }
    String[] lines = captured.toString(StandardCharsets.UTF_8).strip().split("\n");
    assertEquals(2, lines.length, captured.toString(StandardCharsets.UTF_8));
    JsonObject json = new JsonObject(lines[0]);
    assertEquals("node 7 registered", json.getString("formattedMessage"));
    assertEquals("INFO", json.getString("level"));
    assertTrue(lines[1].matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) INFO  probe - node 7 left"),
        lines[1]);
  }
}
