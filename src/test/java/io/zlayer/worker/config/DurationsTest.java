package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DurationsTest {

  static Stream<Arguments> good() {
    return Stream.of(
        Arguments.of(10, Duration.ofSeconds(10)),
        Arguments.of(0, Duration.ZERO),
        Arguments.of(600L, Duration.ofSeconds(600)),
        Arguments.of("10", Duration.ofSeconds(10)),
        Arguments.of("10s", Duration.ofSeconds(10)),
        Arguments.of("5m", Duration.ofSeconds(300)),
        Arguments.of("1h", Duration.ofHours(1)),
        Arguments.of("250ms", Duration.ofMillis(250)),
        Arguments.of("1d", Duration.ofDays(1)),
        Arguments.of(" 30d ", Duration.ofDays(30)));
  }

  @ParameterizedTest
  @MethodSource("good")
  void parsesGood(Object in, Duration expected) {
    assertEquals(expected, Durations.parse("heartbeat_grace", in));
  }

  static Stream<Object> bad() {
    return Stream.of("-1", -1, "abc", "10y", 1.5, "10x", "", "1.5s", "s", true, "99999999999999999999d");
  }

  @ParameterizedTest
  @MethodSource("bad")
  void rejectsBad(Object in) {
    ConfigException e = assertThrows(ConfigException.class, () -> Durations.parse("heartbeat_min_ttl", in));
    assertTrue(e.getMessage().startsWith("heartbeat_min_ttl: '"), e.getMessage());
    assertTrue(e.getMessage().contains("is not a duration"), e.getMessage());
  }

  @Test
  void exactMessage() {
    ConfigException e = assertThrows(ConfigException.class, () -> Durations.parse("heartbeat_min_ttl", "10x"));
    assertEquals("heartbeat_min_ttl: '10x' is not a duration (use seconds like 10 or a value like 10s, 5m, 1h)",
        e.getMessage());
  }

  @Test
  void formatsShortestExact() {
    assertEquals("10s", Durations.format(Duration.ofSeconds(10)));
    assertEquals("5m", Durations.format(Duration.ofSeconds(300)));
    assertEquals("1h", Durations.format(Duration.ofHours(1)));
    assertEquals("250ms", Durations.format(Duration.ofMillis(250)));
    assertEquals("1500ms", Durations.format(Duration.ofMillis(1500)));
    assertEquals("30d", Durations.format(Duration.ofDays(30)));
    assertEquals("90s", Durations.format(Duration.ofSeconds(90)));
    assertEquals("0s", Durations.format(Duration.ZERO));
    for (String s : new String[] {"10s", "5m", "1h", "250ms", "1d", "61s"}) {
      assertEquals(s, Durations.format(Durations.parse("k", s)));
    }
  }
}
