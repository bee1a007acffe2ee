package io.zlayer.worker.controller.core;

import io.zlayer.worker.pki.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The bearer credential of a legacy HTTP worker ({@code X-ZLayer-Internal-Token}): random,
 * bound to one node id, and stored only as its SHA-256.
 */
final class InternalTokens {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int BYTES = 32;

  private InternalTokens() {
  }

  static String mint() {
    byte[] raw = new byte[BYTES];
    RANDOM.nextBytes(raw);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
  }

  static String sha256(String token) {
    return Fingerprints.sha256Hex(token.getBytes(StandardCharsets.UTF_8));
  }

  /** Constant-time check of a presented token against a node's stored hash. */
  static boolean matches(String presented, String storedSha256) {
    if (presented == null || storedSha256 == null) {
      return false;
    }
    return MessageDigest.isEqual(sha256(presented).getBytes(StandardCharsets.US_ASCII),
        storedSha256.getBytes(StandardCharsets.US_ASCII));
  }
}
