package io.zlayer.worker.pki;

import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Owns admission checks on worker CSRs: well-formed PKCS#10, self-signature valid (proof of
 * possession), and a key type we accept. Messages are safe to return to the peer.
 */
public final class CsrVerifier {
  private static final String ACCEPTED = "only EC P-256 or Ed25519 keys are accepted";
  /** secp256r1 and prime256v1 are the same OID (1.2.840.10045.3.1.7). */
  private static final ASN1ObjectIdentifier P256 = X9ObjectIdentifiers.prime256v1;

  private CsrVerifier() {}

  /** Returns the CSR's public key once the CSR is parsed, key type accepted and signature verified. */
  public static PublicKey verify(byte[] csrDer) throws InvalidCsrException {
    Pki.ensureProvider();
    if (csrDer == null || csrDer.length == 0) {
      throw new InvalidCsrException("csr_der is empty");
    }
    PKCS10CertificationRequest csr;
    try {
      csr = new PKCS10CertificationRequest(csrDer);
    } catch (Exception e) {
      // BC surfaces malformed ASN.1 as IOException or assorted RuntimeExceptions.
      throw new InvalidCsrException("csr_der is not a PKCS#10 certification request: " + detail(e));
    }
    SubjectPublicKeyInfo spki = csr.getSubjectPublicKeyInfo();
    // Key type first: no point spending a signature check on a key we would refuse anyway.
    checkKeyType(csr, spki);
    boolean valid;
    try {
      ContentVerifierProvider verifier = new JcaContentVerifierProviderBuilder()
          .setProvider(Pki.PROVIDER).build(spki);
      valid = csr.isSignatureValid(verifier);
    } catch (Exception e) {
      throw new InvalidCsrException("CSR signature does not verify: " + detail(e));
    }
    if (!valid) {
      throw new InvalidCsrException("CSR signature does not verify");
    }
    try {
      return new JcaPKCS10CertificationRequest(csr).setProvider(Pki.PROVIDER).getPublicKey();
    } catch (Exception e) {
      throw new InvalidCsrException("CSR public key is invalid: " + detail(e));
    }
  }

  private static void checkKeyType(PKCS10CertificationRequest csr, SubjectPublicKeyInfo spki)
      throws InvalidCsrException {
    AlgorithmIdentifier alg = spki.getAlgorithm();
    ASN1ObjectIdentifier oid = alg.getAlgorithm();
    if (EdECObjectIdentifiers.id_Ed25519.equals(oid)) {
      return;
    }
    if (X9ObjectIdentifiers.id_ecPublicKey.equals(oid)) {
      ASN1Encodable params = alg.getParameters();
      if (!(params instanceof ASN1ObjectIdentifier curve)) {
        throw new InvalidCsrException("CSR key is EC with explicit or missing curve parameters; " + ACCEPTED);
      }
      if (P256.equals(curve)) {
        return;
      }
      String name = ECNamedCurveTable.getName(curve);
      throw new InvalidCsrException("CSR key is EC on curve " + (name != null ? name : curve.getId()) + "; " + ACCEPTED);
    }
    if (PKCSObjectIdentifiers.rsaEncryption.equals(oid)) {
      throw new InvalidCsrException("CSR key is RSA " + rsaBits(csr) + "; " + ACCEPTED);
    }
    if (EdECObjectIdentifiers.id_Ed448.equals(oid)) {
      throw new InvalidCsrException("CSR key is Ed448; " + ACCEPTED);
    }
    throw new InvalidCsrException("CSR key algorithm " + oid.getId() + " is not supported; " + ACCEPTED);
  }

  private static String rsaBits(PKCS10CertificationRequest csr) {
    try {
      PublicKey key = new JcaPKCS10CertificationRequest(csr).setProvider(Pki.PROVIDER).getPublicKey();
      if (key instanceof RSAPublicKey rsa) {
        return rsa.getModulus().bitLength() + "-bit";
      }
    } catch (Exception e) {
      // Size is only for the message; fall through.
    }
    return "(unknown size)";
  }

  private static String detail(Exception e) {
    String msg = e.getMessage();
    return msg == null || msg.isBlank() ? e.getClass().getSimpleName() : msg;
  }
}
