package io.zlayer.worker.controller.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** Numbers as a JSON parser hands them over: in range or refused, never wrapped, rounded or clamped. */
class JsonNumbersTest {
  private static Object parsed(String number) {
    return new JsonObject("{\"n\":" + number + "}").getValue("n");
  }

  @Test
  void integersInRangeAreRead() {
    assertEquals(7, JsonNumbers.integer(parsed("7"), 0, 10));
    assertEquals(Long.MAX_VALUE, JsonNumbers.integer(parsed("9223372036854775807"), 0, Long.MAX_VALUE));
    assertEquals(5, JsonNumbers.integer(parsed("5.0"), 0, 10));
    assertEquals(100, JsonNumbers.integer(parsed("1e2"), 0, 1000));
  }

  @Test
  void outOfRangeAndNonIntegersAreRefused() {
    String[][] cases = {
        {"18446744073709551618", "out of range"}, {"9223372036854775808", "out of range"}, {"-1", "non-negative"},
        {"4294967297", "out of range"}, {"1.5", "integer"}, {"1e309", "integer"}, {"\"7\"", "integer"},
        {"true", "integer"}, {"1e20", "out of range"}, {"1" + "0".repeat(300), "out of range"}};
    for (String[] c : cases) {
      JsonNumbers.Refused e = assertThrows(JsonNumbers.Refused.class,
          () -> JsonNumbers.integer(parsed(c[0]), 0, Integer.MAX_VALUE), c[0]);
      assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
    }
  }

  @Test
  void decimalsMustBeFinite() {
    assertEquals(0.5, JsonNumbers.finite(parsed("0.5"), 0, 1));
    assertTrue(assertThrows(JsonNumbers.Refused.class, () -> JsonNumbers.finite(parsed("1e309"), 0, Double.MAX_VALUE))
        .getMessage().contains("finite"));
    assertThrows(JsonNumbers.Refused.class, () -> JsonNumbers.finite(parsed("-1e309"), -Double.MAX_VALUE, 0));
    assertThrows(JsonNumbers.Refused.class, () -> JsonNumbers.finite(parsed("2"), 0, 1));
  }
}
