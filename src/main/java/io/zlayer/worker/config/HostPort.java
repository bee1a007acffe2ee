package io.zlayer.worker.config;

import java.util.Objects;
import java.util.regex.Pattern;

/** A {@code host:port} pair: IPv4 ({@code 0.0.0.0:3670}), IPv6 ({@code [::1]:3670}) or hostname. */
public record HostPort(String host, int port) {
  private static final Pattern HOSTNAME = Pattern.compile(
      "[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\\.?");
  private static final Pattern DOTTED_NUMBERS = Pattern.compile("[0-9.]+");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?");
  private static final Pattern IPV4_LOOPBACK = Pattern.compile("127(\\.\\d{1,3}){3}");

  /**
   * Whether this address is on loopback: {@code localhost}, {@code 127.x.y.z} or {@code ::1}. Read
   * from the text alone (no name lookup), so another name counts as not loopback.
   */
  public boolean loopback() {
    return host.equalsIgnoreCase("localhost") || IPV4_LOOPBACK.matcher(host).matches()
        || host.equals("::1") || host.equals("0:0:0:0:0:0:0:1");
  }

  public HostPort {
    Objects.requireNonNull(host, "host");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
  }

  /**
   * Parses {@code host:port}, {@code [ipv6]:port}; the port must be 0..65535.
   *
   * @throws ConfigException naming {@code key} on bad input
   */
  public static HostPort parse(String key, String value) {
    if (value == null || value.isBlank()) {
      throw new ConfigException(key + ": empty address (expected host:port, e.g. 0.0.0.0:3670)");
    }
    String v = value.trim();
    String host;
    String portText;
    if (v.startsWith("[")) {
      int close = v.indexOf(']');
      if (close < 0 || close + 1 >= v.length() || v.charAt(close + 1) != ':') {
        throw notHostPort(key, value);
      }
      host = v.substring(1, close);
      portText = v.substring(close + 2);
      if (!host.contains(":") || !IPV6.matcher(host).matches()) {
        throw new ConfigException(key + ": '" + value + "' has an invalid IPv6 address in brackets");
      }
    } else {
      int colon = v.lastIndexOf(':');
      if (colon < 0) {
        throw notHostPort(key, value);
      }
      host = v.substring(0, colon);
      portText = v.substring(colon + 1);
      if (host.contains(":")) {
        throw new ConfigException(key + ": '" + value
            + "' looks like an IPv6 address; put it in brackets, e.g. [::1]:3670");
      }
      if (host.isEmpty()) {
        throw notHostPort(key, value);
      }
      if (DOTTED_NUMBERS.matcher(host).matches()) {
        if (!isIpv4(host)) {
          throw new ConfigException(key + ": '" + value + "' has an invalid IPv4 address '" + host + "'");
        }
      } else if (!HOSTNAME.matcher(host).matches()) {
        throw new ConfigException(key + ": '" + value + "' has an invalid host name '" + host + "'");
      }
    }
    if (portText.isEmpty() || portText.length() > 6 || !portText.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new ConfigException(key + ": '" + value + "' has an invalid port '" + portText
          + "' (expected host:port, e.g. 0.0.0.0:3670)");
    }
    int port = Integer.parseInt(portText);
    if (port > 65535) {
      throw new ConfigException(key + ": port " + port + " in '" + value + "' is out of range (0-65535)");
    }
    return new HostPort(host, port);
  }

  private static ConfigException notHostPort(String key, String value) {
    return new ConfigException(key + ": '" + value + "' is not host:port (e.g. 0.0.0.0:3670 or [::1]:3670)");
  }

  private static boolean isIpv4(String host) {
    String[] parts = host.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String p : parts) {
      if (p.isEmpty() || p.length() > 3 || Integer.parseInt(p) > 255) {
        return false;
      }
    }
    return true;
  }

  /** {@code host:port}, with an IPv6 host in brackets. */
  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
