package io.zlayer.worker.pki;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.interfaces.EdECKey;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Owns worker-side key material: key generation and CSR creation. */
public final class WorkerKeys {
  static final String CURVE_P256 = "secp256r1";
  static final String EC_SIGNATURE = "SHA256withECDSA";
  static final String ED25519 = "Ed25519";

  private WorkerKeys() {}

  /** Fresh EC P-256 key pair (BC provider: much faster than SunEC). */
  public static KeyPair generateP256() {
    Pki.ensureProvider();
    try {
      KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", Pki.PROVIDER);
      kpg.initialize(new ECGenParameterSpec(CURVE_P256), new SecureRandom());
      return kpg.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot generate EC P-256 key: " + e.getMessage(), e);
    }
  }

  /**
   * PKCS#10 DER with subject CN=commonName. EC keys sign with SHA256withECDSA; Ed25519 keys (also
   * accepted by the controller) sign with Ed25519 since that algorithm has no separate digest.
   */
  public static byte[] createCsr(KeyPair keyPair, String commonName) {
    Pki.ensureProvider();
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
    try {
      return new JcaPKCS10CertificationRequestBuilder(subject, keyPair.getPublic())
          .build(signer(keyPair.getPrivate()))
          .getEncoded();
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode CSR: " + e.getMessage(), e);
    }
  }

  /** Content signer matching the private key's algorithm. */
  static ContentSigner signer(PrivateKey key) {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC", "ECDSA" -> EC_SIGNATURE;
      case "Ed25519" -> ED25519;
      // JDK EdDSA keys report the family name; only the Ed25519 curve is supported here.
      case "EdDSA" -> {
        if (key instanceof EdECKey ed && ED25519.equalsIgnoreCase(ed.getParams().getName())) {
          yield ED25519;
        }
        throw new IllegalArgumentException("unsupported EdDSA curve; only Ed25519 is supported");
      }
      default -> throw new IllegalArgumentException("unsupported key algorithm " + key.getAlgorithm());
    };
    try {
      return new JcaContentSignerBuilder(algorithm).setProvider(Pki.PROVIDER).build(key);
    } catch (OperatorCreationException e) {
      throw new IllegalStateException("cannot create " + algorithm + " signer: " + e.getMessage(), e);
    }
  }
}
