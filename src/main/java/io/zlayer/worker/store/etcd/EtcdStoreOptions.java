package io.zlayer.worker.store.etcd;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How to reach etcd: {@code http(s)://host:port} endpoints (tried in order, the next one after a
 * failure), the key prefix every store key lives under, client TLS files for {@code https}
 * endpoints (a null CA: the JDK's default CAs; null cert and key: no client certificate), and
 * the deadline of one request.
 */
public record EtcdStoreOptions(List<String> endpoints, String prefix, Path caFile, Path certFile, Path keyFile,
                               Duration requestTimeout) {
  public static final String DEFAULT_PREFIX = "/zlayer/";
  /** A write while etcd is unreachable fails after at most this long, never hangs. */
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(3);

  public EtcdStoreOptions {
    endpoints = List.copyOf(endpoints);
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(requestTimeout, "requestTimeout");
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("etcd needs at least one endpoint");
    }
    if (prefix.isEmpty()) {
      throw new IllegalArgumentException("etcd key prefix must not be empty");
    }
  }

  /** Plain-text endpoints, the default prefix and deadline. */
  public static EtcdStoreOptions of(List<String> endpoints) {
    return new EtcdStoreOptions(endpoints, DEFAULT_PREFIX, null, null, null, DEFAULT_REQUEST_TIMEOUT);
  }

  public EtcdStoreOptions withPrefix(String p) {
    return new EtcdStoreOptions(endpoints, p, caFile, certFile, keyFile, requestTimeout);
  }

  public EtcdStoreOptions withRequestTimeout(Duration t) {
    return new EtcdStoreOptions(endpoints, prefix, caFile, certFile, keyFile, t);
  }

  public boolean tls() {
    return endpoints.stream().anyMatch(e -> e.startsWith("https://"));
  }

  static URI uri(String endpoint) {
    URI u = URI.create(endpoint);
    if (u.getHost() == null || u.getPort() < 0) {
      throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' is not http(s)://host:port");
    }
    return u;
  }
}
