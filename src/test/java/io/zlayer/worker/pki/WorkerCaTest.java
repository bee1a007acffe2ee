package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerCaTest {
  private static final String CLUSTER = "c7f3a9e1b2d4";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final int SAN_DNS = 2;
  private static final int SAN_IP = 7;

  @TempDir static Path sharedDir;
  private static WorkerCa ca;

  @BeforeAll
  static void createCa() throws IOException {
    ca = WorkerCa.loadOrCreate(sharedDir.resolve("ca"), CLUSTER);
  }

  @Test
  void createdOnceThenReloaded(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("nested/ca");
    WorkerCa first = WorkerCa.loadOrCreate(dir, CLUSTER);
    WorkerCa second = WorkerCa.loadOrCreate(dir, CLUSTER);
    assertEquals(first.caSha256(), second.caSha256());
    assertEquals(first.certificate(), second.certificate());
    assertArrayEquals(first.certificateDer(), second.certificateDer());
    assertEquals(CLUSTER, second.clusterId());
    assertEquals(PosixFilePermissions.fromString("rw-------"),
        Files.getPosixFilePermissions(dir.resolve(WorkerCa.CA_KEY_FILE)));
    assertEquals(PosixFilePermissions.fromString("rwx------"), Files.getPosixFilePermissions(dir));
    // A certificate issued before the reload is still recognised after it.
    X509Certificate worker = first.signWorkerCertificate(WorkerKeys.generateP256().getPublic(), 1, Duration.ofDays(1));
    assertTrue(second.issued(worker));
  }

  @Test
  void caCertificateShape() throws Exception {
    X509Certificate cert = ca.certificate();
    assertEquals("CN=zlayer worker CA " + CLUSTER, cert.getSubjectX500Principal().getName());
    assertEquals(cert.getSubjectX500Principal(), cert.getIssuerX500Principal());
    assertEquals(0, cert.getBasicConstraints());
    boolean[] ku = cert.getKeyUsage();
    assertTrue(ku[5] && ku[6], "keyCertSign and cRLSign");
    assertFalse(ku[0]);
    assertNotNull(cert.getExtensionValue("2.5.29.14"), "subjectKeyIdentifier");
    cert.verify(cert.getPublicKey());
    long days = Duration.between(Instant.now(), cert.getNotAfter().toInstant()).toDays();
    assertTrue(days >= 3649 && days <= 3650, "CA validity ~3650 days, got " + days);
    assertEquals(1, Pem.parseCertificates(ca.certificatePem()).size());
  }

  @Test
  void halfPresentDirectoryIsAnError(@TempDir Path tmp) throws Exception {
    Path onlyCert = tmp.resolve("a");
    WorkerCa.loadOrCreate(onlyCert, CLUSTER);
    Files.delete(onlyCert.resolve(WorkerCa.CA_KEY_FILE));
    IOException e = assertThrows(IOException.class, () -> WorkerCa.loadOrCreate(onlyCert, CLUSTER));
    assertTrue(e.getMessage().contains(WorkerCa.CA_KEY_FILE), e.getMessage());

    Path onlyKey = tmp.resolve("b");
    WorkerCa.loadOrCreate(onlyKey, CLUSTER);
    Files.delete(onlyKey.resolve(WorkerCa.CA_CERT_FILE));
    e = assertThrows(IOException.class, () -> WorkerCa.loadOrCreate(onlyKey, CLUSTER));
    assertTrue(e.getMessage().contains(WorkerCa.CA_CERT_FILE), e.getMessage());
  }

  @Test
  void reloadForOtherClusterOrMismatchedKeyFails(@TempDir Path tmp) throws Exception {
    WorkerCa.loadOrCreate(tmp.resolve("x"), CLUSTER);
    assertThrows(IOException.class, () -> WorkerCa.loadOrCreate(tmp.resolve("x"), "otherclusterid"));

    WorkerCa.loadOrCreate(tmp.resolve("y"), CLUSTER);
    Files.copy(tmp.resolve("y/ca-key.pem"), tmp.resolve("x/ca-key.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThrows(IOException.class, () -> WorkerCa.loadOrCreate(tmp.resolve("x"), CLUSTER));
  }

  @Test
  void caSha256IsDigestOfSubjectPublicKeyInfo() throws Exception {
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(ca.certificate().getPublicKey().getEncoded());
    assertEquals(HexFormat.of().formatHex(digest), ca.caSha256());
    assertEquals(64, ca.caSha256().length());
    assertTrue(ca.caSha256().matches("[0-9a-f]{64}"));
    assertEquals(ca.caSha256(), WorkerCa.spkiSha256(ca.certificate()));
  }

  @Test
  void workerCertificateValidatesAndCarriesIdentity() throws Exception {
    X509Certificate cert = ca.signWorkerCertificate(WorkerKeys.generateP256().getPublic(), 42, Duration.ofDays(30));

    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    CertPath path = cf.generateCertPath(List.of(cert));
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca.certificate(), null)));
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX").validate(path, params);

    assertTrue(cert.getExtendedKeyUsage().contains(CLIENT_AUTH));
    assertFalse(cert.getExtendedKeyUsage().contains(SERVER_AUTH));
    assertEquals("CN=node-42", cert.getSubjectX500Principal().getName());
    assertEquals(-1, cert.getBasicConstraints());
    assertTrue(cert.getKeyUsage()[0], "digitalSignature");
    assertNotNull(cert.getExtensionValue("2.5.29.35"), "authorityKeyIdentifier");
    assertEquals(new NodeIdentity(CLUSTER, 42), NodeIdentity.of(cert).orElseThrow());
    assertTrue(ca.issued(cert));

    Instant now = Instant.now();
    Duration lifetime = Duration.between(now, cert.getNotAfter().toInstant());
    assertTrue(lifetime.minus(Duration.ofDays(30)).abs().compareTo(Duration.ofMinutes(1)) < 0, lifetime.toString());
    assertTrue(cert.getNotBefore().toInstant().isBefore(now.minusSeconds(30)), "backdated for clock skew");
    assertTrue(cert.getSerialNumber().signum() > 0);
    assertTrue(cert.getSerialNumber().bitLength() <= 159);
  }

  @Test
  void ed25519KeyCanBeCertified() throws Exception {
    var kpg = java.security.KeyPairGenerator.getInstance("Ed25519", Pki.PROVIDER);
    var key = CsrVerifier.verify(WorkerKeys.createCsr(kpg.generateKeyPair(), "node-7"));
    X509Certificate cert = ca.signWorkerCertificate(key, 7, Duration.ofDays(1));
    assertTrue(ca.issued(cert));
    assertEquals(7, NodeIdentity.of(cert).orElseThrow().nodeId());
  }

  @Test
  void serialsAreDistinct() {
    var key = WorkerKeys.generateP256().getPublic();
    Set<BigInteger> serials = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      serials.add(ca.signWorkerCertificate(key, i, Duration.ofHours(1)).getSerialNumber());
    }
    assertEquals(200, serials.size());
  }

  @Test
  void issuedRejectsForeignAndCaCertificates(@TempDir Path tmp) throws Exception {
    WorkerCa other = WorkerCa.loadOrCreate(tmp, CLUSTER);
    X509Certificate foreign = other.signWorkerCertificate(WorkerKeys.generateP256().getPublic(), 1, Duration.ofDays(1));
    assertFalse(ca.issued(foreign));
    assertFalse(ca.issued(ca.certificate()));
  }

  @Test
  void rejectsNonPositiveValidity() {
    var key = WorkerKeys.generateP256().getPublic();
    assertThrows(IllegalArgumentException.class, () -> ca.signWorkerCertificate(key, 1, Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> ca.signWorkerCertificate(key, 1, Duration.ofDays(-1)));
  }

  @Test
  void serverIdentity() throws Exception {
    ServerIdentity id = ca.issueServerIdentity(List.of("ctl.example", "10.1.2.3"));
    List<X509Certificate> chain = Pem.parseCertificates(id.certChainPem());
    assertEquals(2, chain.size());
    assertEquals(ca.certificate(), chain.get(1));
    X509Certificate leaf = chain.get(0);
    leaf.verify(ca.certificate().getPublicKey());
    assertEquals("CN=zlayer-controller", leaf.getSubjectX500Principal().getName());
    assertTrue(leaf.getExtendedKeyUsage().contains(SERVER_AUTH));

    Set<String> dns = new HashSet<>();
    Set<InetAddress> ips = new HashSet<>();
    for (List<?> san : leaf.getSubjectAlternativeNames()) {
      int type = (Integer) san.get(0);
      if (type == SAN_DNS) {
        dns.add((String) san.get(1));
      } else if (type == SAN_IP) {
        ips.add(InetAddress.getByName((String) san.get(1)));
      }
    }
    assertEquals(Set.of("localhost", "ctl.example"), dns);
    assertEquals(Set.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("::1"),
        InetAddress.getByName("10.1.2.3")), ips);

    // The key matches the leaf certificate.
    var key = Pem.parsePrivateKey(id.keyPem());
    var sig = java.security.Signature.getInstance("SHA256withECDSA", Pki.PROVIDER);
    sig.initSign(key);
    sig.update(new byte[] {1, 2, 3});
    byte[] s = sig.sign();
    sig.initVerify(leaf.getPublicKey());
    sig.update(new byte[] {1, 2, 3});
    assertTrue(sig.verify(s));
    assertFalse(id.toString().contains("PRIVATE"));
  }

  @Test
  void serverIdentityRejectsBadName() {
    assertThrows(IllegalArgumentException.class, () -> ca.issueServerIdentity(List.of("bad name")));
  }
}
