package io.zlayer.worker.config;

import java.math.BigInteger;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsing and formatting of config durations: seconds as an integer, or {@code <n>ms|s|m|h|d}. */
public final class Durations {
  private static final Pattern PATTERN = Pattern.compile("(\\d+)(ms|s|m|h|d)?");

  private Durations() {
  }

  /**
   * Accepts a non-negative integer (seconds) or a string: {@code "<n>ms"}, {@code "<n>s"},
   * {@code "<n>m"}, {@code "<n>h"}, {@code "<n>d"} or a bare integer string (seconds).
   *
   * @throws ConfigException naming {@code key} for anything else
   */
  public static Duration parse(String key, Object value) {
    try {
      if (value instanceof Integer || value instanceof Long || value instanceof Short
          || value instanceof Byte || value instanceof BigInteger) {
        long n = value instanceof BigInteger b ? b.longValueExact() : ((Number) value).longValue();
        if (n >= 0) {
          return Duration.ofSeconds(n);
        }
      } else if (value instanceof String s) {
        Matcher m = PATTERN.matcher(s.trim());
        if (m.matches()) {
          long n = Long.parseLong(m.group(1));
          String unit = m.group(2) == null ? "s" : m.group(2);
          return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> throw new IllegalStateException(unit);
          };
        }
      }
    } catch (ArithmeticException | NumberFormatException e) {
      // too large: fall through to the error below
    }
    throw new ConfigException(key + ": '" + value
        + "' is not a duration (use seconds like 10 or a value like 10s, 5m, 1h)");
  }

  /** Shortest exact form: {@code "10s"}, {@code "5m"}, {@code "1h"}, {@code "2d"}, {@code "250ms"}. */
  public static String format(Duration d) {
    if (d.isNegative()) {
      return "-" + format(d.negated());
    }
    if (d.isZero()) {
      return "0s";
    }
    if (d.getNano() != 0) { // sub-second: milliseconds (sub-millisecond parts are dropped)
      return d.toMillis() + "ms";
    }
    long s = d.getSeconds();
    if (s % 86_400 == 0) {
      return s / 86_400 + "d";
    }
    if (s % 3_600 == 0) {
      return s / 3_600 + "h";
    }
    if (s % 60 == 0) {
      return s / 60 + "m";
    }
    return s + "s";
  }
}
