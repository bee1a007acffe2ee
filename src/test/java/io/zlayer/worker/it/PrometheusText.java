package io.zlayer.worker.it;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format (0.0.4): every line must be a
 * comment, a HELP/TYPE line or a sample; a metric's TYPE comes before its samples and only once;
 * label values are escaped properly. Throws {@link IllegalArgumentException} naming the line.
 */
public final class PrometheusText {
  private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  private static final Pattern TYPE = Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|histogram|summary|untyped)");
  private static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") (.*)");
  private static final Pattern SAMPLE = Pattern.compile("(" + NAME + ")(\\{(.*)\\})? (\\S+)( -?\\d+)?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"(,|$)");
  private static final Set<String> SUFFIXES = Set.of("_total", "_bucket", "_count", "_sum", "_created", "_max");

  /** One sample: its name, labels and value. */
  public record Sample(String name, Map<String, String> labels, double value) {
  }

  private PrometheusText() {
  }

  /** Samples keyed by {@code name{labels}} as written. */
  public static Map<String, Sample> parse(String text) {
    Map<String, String> types = new HashMap<>();
    Map<String, Sample> samples = new LinkedHashMap<>();
    int n = 0;
    for (String line : text.split("\n", -1)) {
      n++;
      if (line.isEmpty()) {
        continue;
      }
      Matcher m;
      if ((m = TYPE.matcher(line)).matches()) {
        if (types.put(m.group(1), m.group(2)) != null) {
          throw new IllegalArgumentException("line " + n + ": second TYPE for " + m.group(1));
        }
      } else if (HELP.matcher(line).matches() || line.startsWith("# ") && !line.startsWith("# TYPE") && !line.startsWith("# HELP")) {
        continue;
      } else if ((m = SAMPLE.matcher(line)).matches()) {
        String name = m.group(1);
        Map<String, String> labels = labels(m.group(3), n);
        double value = value(m.group(4), n);
        if (!types.containsKey(name) && !types.containsKey(family(name))) {
          throw new IllegalArgumentException("line " + n + ": sample " + name + " before its TYPE");
        }
        String key = name + (m.group(2) == null ? "" : m.group(2));
        if (samples.put(key, new Sample(name, labels, value)) != null) {
          throw new IllegalArgumentException("line " + n + ": duplicate sample " + key);
        }
      } else {
        throw new IllegalArgumentException("line " + n + ": not valid exposition format: " + line);
      }
    }
    return samples;
  }

  private static String family(String name) {
    for (String suffix : SUFFIXES) {
      if (name.endsWith(suffix)) {
        return name.substring(0, name.length() - suffix.length());
      }
    }
    return name;
  }

  private static Map<String, String> labels(String raw, int n) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return labels;
    }
    Matcher m = LABEL.matcher(raw);
    int at = 0;
    while (at < raw.length()) {
      if (!m.find(at) || m.start() != at) {
        throw new IllegalArgumentException("line " + n + ": bad labels: " + raw);
      }
      labels.put(m.group(1), m.group(2));
      at = m.end();
    }
    return labels;
  }

  private static double value(String raw, int n) {
    switch (raw) {
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      case "NaN":
        return Double.NaN;
      default:
        try {
          return Double.parseDouble(raw);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("line " + n + ": bad value " + raw);
        }
    }
  }
}
