package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.*;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CsrVerifierTest {
  @BeforeAll
  static void provider() {
    // Tests call BC-named JCA factories directly, before any production entry point registers it.
    Pki.ensureProvider();
  }

  @Test
  void goodP256CsrPasses() throws Exception {
    KeyPair kp = WorkerKeys.generateP256();
    PublicKey key = CsrVerifier.verify(WorkerKeys.createCsr(kp, "node-1"));
    assertArrayEquals(kp.getPublic().getEncoded(), key.getEncoded());
  }

  @Test
  void ed25519CsrPasses() throws Exception {
    KeyPair kp = KeyPairGenerator.getInstance("Ed25519", Pki.PROVIDER).generateKeyPair();
    PublicKey key = CsrVerifier.verify(WorkerKeys.createCsr(kp, "node-2"));
    assertArrayEquals(kp.getPublic().getEncoded(), key.getEncoded());
  }

  @Test
  void jdkGeneratedEd25519CsrPasses() throws Exception {
    KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    PublicKey key = CsrVerifier.verify(WorkerKeys.createCsr(kp, "node-2"));
    assertArrayEquals(kp.getPublic().getEncoded(), key.getEncoded());
  }

  @Test
  void tamperedSignatureRejected() {
    byte[] csr = WorkerKeys.createCsr(WorkerKeys.generateP256(), "node-3");
    csr[csr.length - 1] ^= 0x01;
    InvalidCsrException e = assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(csr));
    assertTrue(e.getMessage().contains("signature"), e.getMessage());
  }

  @Test
  void csrSignedByAnotherKeyRejected() throws Exception {
    KeyPair a = WorkerKeys.generateP256();
    KeyPair b = WorkerKeys.generateP256();
    byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=node-4"), a.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").setProvider(Pki.PROVIDER).build(b.getPrivate()))
        .getEncoded();
    InvalidCsrException e = assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(csr));
    assertEquals("CSR signature does not verify", e.getMessage());
  }

  @Test
  void rsaRejected() throws Exception {
    KeyPairGenerator kpg = KeyPairGenerator.getInstance("RSA");
    kpg.initialize(1024);
    KeyPair kp = kpg.generateKeyPair();
    byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=node-5"), kp.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withRSA").setProvider(Pki.PROVIDER).build(kp.getPrivate()))
        .getEncoded();
    InvalidCsrException e = assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(csr));
    assertEquals("CSR key is RSA 1024-bit; only EC P-256 or Ed25519 keys are accepted", e.getMessage());
  }

  @Test
  void p384Rejected() throws Exception {
    KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", Pki.PROVIDER);
    kpg.initialize(new ECGenParameterSpec("secp384r1"));
    KeyPair kp = kpg.generateKeyPair();
    byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=node-6"), kp.getPublic())
        .build(new JcaContentSignerBuilder("SHA384withECDSA").setProvider(Pki.PROVIDER).build(kp.getPrivate()))
        .getEncoded();
    InvalidCsrException e = assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(csr));
    assertEquals("CSR key is EC on curve secp384r1; only EC P-256 or Ed25519 keys are accepted", e.getMessage());
  }

  @Test
  void garbageRejected() {
    InvalidCsrException e = assertThrows(InvalidCsrException.class,
        () -> CsrVerifier.verify(new byte[] {0x01, 0x02, 0x03, 0x04, 0x05}));
    assertTrue(e.getMessage().contains("not a PKCS#10"), e.getMessage());
    e = assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify("hello world".getBytes()));
    assertTrue(e.getMessage().contains("not a PKCS#10"), e.getMessage());
  }

  @Test
  void emptyRejected() {
    assertEquals("csr_der is empty",
        assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(new byte[0])).getMessage());
    assertEquals("csr_der is empty",
        assertThrows(InvalidCsrException.class, () -> CsrVerifier.verify(null)).getMessage());
  }
}
