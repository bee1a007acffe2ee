package io.zlayer.worker.pki;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;

/** Owns PEM text encoding/decoding of certificates and PKCS#8 private keys. */
public final class Pem {
  public static final String CERTIFICATE = "CERTIFICATE";
  public static final String PRIVATE_KEY = "PRIVATE KEY";

  /** RFC 7468 mandates 64-column base64 lines. */
  private static final int LINE_LENGTH = 64;
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");

  private Pem() {}

  /** One PEM block: BEGIN line, 64-column base64 body, END line, trailing newline. */
  public static String encode(String label, byte[] der) {
    String body = Base64.getMimeEncoder(LINE_LENGTH, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(der);
    return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
  }

  /** All blocks carrying exactly this label, in order of appearance; other labels are skipped. */
  public static List<byte[]> decodeAll(String pem, String label) {
    Pattern block = Pattern.compile(
        "-----BEGIN " + Pattern.quote(label) + "-----(.*?)-----END " + Pattern.quote(label) + "-----",
        Pattern.DOTALL);
    List<byte[]> out = new ArrayList<>();
    Matcher m = block.matcher(pem);
    while (m.find()) {
      String base64 = WHITESPACE.matcher(m.group(1)).replaceAll("");
      try {
        // Strict decoder: headers such as Proc-Type (encrypted legacy keys) must fail loudly, not be skipped.
        out.add(Base64.getDecoder().decode(base64));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("invalid base64 in PEM " + label + " block: " + e.getMessage(), e);
      }
    }
    return out;
  }

  /** Parses one DER certificate with the JDK factory so callers get standard certificate objects. */
  public static X509Certificate parseCertificate(byte[] der) {
    if (der == null || der.length == 0) {
      throw new IllegalArgumentException("certificate DER is empty");
    }
    try {
      return (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(der));
    } catch (CertificateException | RuntimeException e) {
      throw new IllegalArgumentException("not an X.509 certificate: " + e.getMessage(), e);
    }
  }

  /** Every CERTIFICATE block in the text, in order (e.g. leaf then CA). */
  public static List<X509Certificate> parseCertificates(String pem) {
    List<X509Certificate> certs = new ArrayList<>();
    for (byte[] der : decodeAll(pem, CERTIFICATE)) {
      certs.add(parseCertificate(der));
    }
    return certs;
  }

  /** PKCS#8 "PRIVATE KEY" block. */
  public static String privateKeyToPem(PrivateKey key) {
    if (!"PKCS#8".equalsIgnoreCase(key.getFormat())) {
      throw new IllegalArgumentException("private key is not PKCS#8 encodable (format " + key.getFormat() + ")");
    }
    return encode(PRIVATE_KEY, key.getEncoded());
  }

  /** First PKCS#8 "PRIVATE KEY" block; only EC and Ed25519 keys are used in this system. */
  public static PrivateKey parsePrivateKey(String pem) {
    Pki.ensureProvider();
    List<byte[]> blocks = decodeAll(pem, PRIVATE_KEY);
    if (blocks.isEmpty()) {
      throw new IllegalArgumentException("no PKCS#8 PRIVATE KEY block found");
    }
    byte[] der = blocks.get(0);
    ASN1ObjectIdentifier algorithm;
    try {
      algorithm = PrivateKeyInfo.getInstance(der).getPrivateKeyAlgorithm().getAlgorithm();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("PRIVATE KEY block is not PKCS#8: " + e.getMessage(), e);
    }
    String keyFactory;
    if (X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm)) {
      keyFactory = "EC";
    } else if (EdECObjectIdentifiers.id_Ed25519.equals(algorithm)) {
      keyFactory = "Ed25519";
    } else {
      throw new IllegalArgumentException("unsupported private key algorithm " + algorithm.getId());
    }
    try {
      return KeyFactory.getInstance(keyFactory, Pki.PROVIDER).generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (GeneralSecurityException e) {
      // Message only: never echo key material.
      throw new IllegalArgumentException("invalid " + keyFactory + " private key: " + e.getMessage(), e);
    }
  }
}
