package io.zlayer.worker.pki;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** Owns the hex SHA-256 fingerprints used for discovery hashes and revocation lists. */
public final class Fingerprints {
  private static final String SHA_256 = "SHA-256";

  private Fingerprints() {}

  /** Lowercase hex SHA-256 of the given bytes. */
  public static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance(SHA_256).digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      // Every Java SE platform must ship SHA-256.
      throw new IllegalStateException("SHA-256 not available", e);
    }
  }

  /** Lowercase hex SHA-256 of the certificate's DER encoding. */
  public static String certificateSha256(X509Certificate cert) {
    try {
      return sha256Hex(cert.getEncoded());
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("certificate cannot be encoded: " + e.getMessage(), e);
    }
  }
}
