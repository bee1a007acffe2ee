package io.zlayer.worker.pki;

import java.net.URI;
import java.net.URISyntaxException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** The spiffe-style identity a worker certificate carries. */
public record NodeIdentity(String clusterId, long nodeId) {
  private static final String SCHEME = "spiffe";
  private static final String NODE_PATH_PREFIX = "/node/";
  private static final String COMMON_NAME_PREFIX = "node-";
  /** SPIFFE trust domain characters; keeps the URI unambiguous without escaping. */
  private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9._-]+");
  /** Node ids are decimal, no sign or leading zeros, so each id has exactly one URI spelling. */
  private static final Pattern NODE_ID = Pattern.compile("0|[1-9][0-9]{0,18}");
  /** GeneralName tag for uniformResourceIdentifier in X509Certificate#getSubjectAlternativeNames. */
  private static final int SAN_URI = 6;

  public NodeIdentity {
    if (clusterId == null || !TRUST_DOMAIN.matcher(clusterId).matches()) {
      throw new IllegalArgumentException("cluster id must match [a-z0-9._-]+: " + clusterId);
    }
    if (nodeId < 0) {
      throw new IllegalArgumentException("node id must not be negative: " + nodeId);
    }
  }

  /** spiffe://&lt;clusterId&gt;/node/&lt;nodeId&gt; */
  public URI uri() {
    return URI.create(SCHEME + "://" + clusterId + NODE_PATH_PREFIX + nodeId);
  }

  /**
   * Identity from the certificate's URI SAN. Empty when there is no spiffe URI, it is malformed,
   * or there are several (a SPIFFE certificate carries exactly one, so several is ambiguous).
   */
  public static Optional<NodeIdentity> of(X509Certificate cert) {
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return Optional.empty();
    }
    if (sans == null) {
      return Optional.empty();
    }
    Optional<NodeIdentity> found = Optional.empty();
    for (List<?> san : sans) {
      if (san.size() < 2 || !(san.get(0) instanceof Integer type) || type != SAN_URI
          || !(san.get(1) instanceof String value)) {
        continue;
      }
      if (!value.regionMatches(true, 0, SCHEME + ":", 0, SCHEME.length() + 1)) {
        continue;
      }
      if (found.isPresent()) {
        return Optional.empty();
      }
      found = parse(value);
      if (found.isEmpty()) {
        return Optional.empty();
      }
    }
    return found;
  }

  /** Subject common name of a worker certificate: "node-&lt;id&gt;". */
  public static String commonName(long nodeId) {
    return COMMON_NAME_PREFIX + nodeId;
  }

  private static Optional<NodeIdentity> parse(String value) {
    try {
      URI uri = new URI(value);
      // Raw authority, not host: trust domains may contain '_', which java.net.URI refuses as a host.
      String authority = uri.getRawAuthority();
      String path = uri.getRawPath();
      if (!SCHEME.equals(uri.getScheme()) || authority == null || path == null
          || uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null
          || !TRUST_DOMAIN.matcher(authority).matches() || !path.startsWith(NODE_PATH_PREFIX)) {
        return Optional.empty();
      }
      String id = path.substring(NODE_PATH_PREFIX.length());
      if (!NODE_ID.matcher(id).matches()) {
        return Optional.empty();
      }
      return Optional.of(new NodeIdentity(authority, Long.parseLong(id)));
    } catch (URISyntaxException | IllegalArgumentException e) {
      // NumberFormatException (overflow) is an IllegalArgumentException too.
      return Optional.empty();
    }
  }
}
