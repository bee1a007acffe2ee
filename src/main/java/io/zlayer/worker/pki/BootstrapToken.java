package io.zlayer.worker.pki;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * A single-use join credential: URL-safe base64 of
 * {@code {cluster_id, token_id, secret, expires_at, ca_sha256}}. The {@code ca_sha256} pins
 * the controller's CA (kubeadm's discovery hash) so the worker never shows the token to an
 * unverified server. {@link #toString()} never prints the secret.
 */
public record BootstrapToken(String clusterId, String tokenId, String secret, long expiresAt,
                             String caSha256) {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int SECRET_BYTES = 32;
  private static final int TOKEN_ID_BYTES = 8;

  /** Thrown when a string is not a bootstrap token; the message says what is wrong. */
  public static final class MalformedTokenException extends Exception {
    public MalformedTokenException(String message) {
      super(message, null, false, false);
    }
  }

  public static BootstrapToken mint(String clusterId, long expiresAt, String caSha256) {
    byte[] id = new byte[TOKEN_ID_BYTES];
    byte[] secret = new byte[SECRET_BYTES];
    RANDOM.nextBytes(id);
    RANDOM.nextBytes(secret);
    return new BootstrapToken(clusterId, HexFormat.of().formatHex(id),
        Base64.getUrlEncoder().withoutPadding().encodeToString(secret), expiresAt, caSha256);
  }

  public String encode() {
    JsonObject json = new JsonObject()
        .put("cluster_id", clusterId)
        .put("token_id", tokenId)
        .put("secret", secret)
        .put("expires_at", expiresAt)
        .put("ca_sha256", caSha256);
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString(json.encode().getBytes(StandardCharsets.UTF_8));
  }

  public static BootstrapToken decode(String encoded) throws MalformedTokenException {
    if (encoded == null || encoded.isBlank()) {
      throw new MalformedTokenException("bootstrap token is malformed: it is empty");
    }
    JsonObject json;
    try {
      byte[] raw = Base64.getUrlDecoder().decode(encoded.trim());
      json = new JsonObject(new String(raw, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException | DecodeException | ClassCastException e) {
      throw new MalformedTokenException("bootstrap token is malformed: not URL-safe base64 of a JSON object");
    }
    try {
      String clusterId = required(json, "cluster_id");
      String tokenId = required(json, "token_id");
      String secret = required(json, "secret");
      String ca = required(json, "ca_sha256");
      Long expires = json.getLong("expires_at");
      if (expires == null) {
        throw new MalformedTokenException("bootstrap token is malformed: expires_at is missing");
      }
      return new BootstrapToken(clusterId, tokenId, secret, expires, ca);
    } catch (ClassCastException e) {
      throw new MalformedTokenException("bootstrap token is malformed: a field has the wrong type");
    }
  }

  private static String required(JsonObject json, String field) throws MalformedTokenException {
    String value = json.getString(field);
    if (value == null || value.isEmpty()) {
      throw new MalformedTokenException("bootstrap token is malformed: " + field + " is missing");
    }
    return value;
  }

  /** Hex SHA-256 of the secret: the only form of it the controller stores. */
  public String secretSha256() {
    return Fingerprints.sha256Hex(secret.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "BootstrapToken[cluster_id=" + clusterId + ", token_id=" + tokenId + ", expires_at="
        + expiresAt + "]";
  }
}
