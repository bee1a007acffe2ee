package io.zlayer.worker.controller.core;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Strict reading of the numbers a peer sends in JSON: an integer field takes an integer within
 * its range, a decimal field a finite number within its range. Nothing is wrapped, rounded,
 * clamped or turned into a string: {@code 2^64+2} is refused (a {@code longValue()} reads it as
 * 2), and so is {@code 1e309} (which JSON parsers read as infinity).
 */
public final class JsonNumbers {
  /** Doubles are exact integers only up to 2^53. */
  private static final double EXACT_DOUBLE = 9_007_199_254_740_992d;

  private JsonNumbers() {
  }

  /** Why a value was refused, phrased to follow the field's name. */
  public static final class Refused extends IllegalArgumentException {
    Refused(String message) {
      super(message);
    }
  }

  /** {@code value} as a long within [{@code min}, {@code max}]. */
  public static long integer(Object value, long min, long max) {
    long n = asLong(value, min, max);
    if (n < min || n > max) {
      throw outOfRange(value, min, max);
    }
    return n;
  }

  /** {@code value} as a finite double within [{@code min}, {@code max}]. */
  public static double finite(Object value, double min, double max) {
    if (!(value instanceof Number number)) {
      throw new Refused("must be a number, got " + quote(value));
    }
    double d = number.doubleValue();
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      throw new Refused("must be a finite number, got " + text(value));
    }
    if (d < min || d > max) {
      throw new Refused("must be between " + min + " and " + max + ", got " + text(value));
    }
    return d;
  }

  private static long asLong(Object value, long min, long max) {
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof BigInteger big) {
      if (big.bitLength() > 63) {
        throw outOfRange(value, min, max);
      }
      return big.longValue();
    }
    if (value instanceof BigDecimal dec) {
      try {
        return dec.toBigIntegerExact().longValueExact();
      } catch (ArithmeticException e) {
        throw dec.stripTrailingZeros().scale() <= 0 ? outOfRange(value, min, max) : notInteger(value, min);
      }
    }
    if (value instanceof Double || value instanceof Float) {
      double d = ((Number) value).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d) || d != Math.rint(d)) {
        throw notInteger(value, min);
      }
      if (Math.abs(d) > EXACT_DOUBLE) {
        throw outOfRange(value, min, max);
      }
      return (long) d;
    }
    throw notInteger(value, min);
  }

  private static Refused notInteger(Object value, long min) {
    return new Refused("must be a" + (min >= 0 ? " non-negative" : "n") + " integer, got " + quote(value));
  }

  private static Refused outOfRange(Object value, long min, long max) {
    if (min == 0 && value instanceof Number n && n.doubleValue() < 0) {
      return new Refused("must be a non-negative integer, got " + text(value));
    }
    return new Refused("is out of range (" + min + ".." + max + "), got " + text(value));
  }

  private static String text(Object value) {
    String s = String.valueOf(value);
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  private static String quote(Object value) {
    return value instanceof String s ? "\"" + text(s) + "\"" : text(value);
  }
}
