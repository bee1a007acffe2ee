package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemAndFilesTest {
  @BeforeAll
  static void provider() {
    // Tests call BC-named JCA factories directly, before any production entry point registers it.
    Pki.ensureProvider();
  }

  @Test
  void encodeUses64ColumnLines() {
    byte[] der = new byte[200];
    for (int i = 0; i < der.length; i++) {
      der[i] = (byte) i;
    }
    String pem = Pem.encode("TEST", der);
    String[] lines = pem.split("\n");
    assertEquals("-----BEGIN TEST-----", lines[0]);
    assertEquals("-----END TEST-----", lines[lines.length - 1]);
    for (int i = 1; i < lines.length - 1; i++) {
      assertTrue(lines[i].length() <= 64);
    }
    assertEquals(64, lines[1].length());
    assertArrayEquals(der, Pem.decodeAll(pem, "TEST").get(0));
  }

  @Test
  void decodeAllKeepsOrderAndFiltersLabel() {
    String pem = Pem.encode("A", new byte[] {1}) + Pem.encode("B", new byte[] {2})
        + Pem.encode("A", new byte[] {3});
    List<byte[]> as = Pem.decodeAll(pem.replace("\n", "\r\n"), "A");
    assertEquals(2, as.size());
    assertArrayEquals(new byte[] {1}, as.get(0));
    assertArrayEquals(new byte[] {3}, as.get(1));
    assertTrue(Pem.decodeAll(pem, "C").isEmpty());
  }

  @Test
  void certificateRoundTrip(@TempDir Path tmp) throws Exception {
    WorkerCa ca = WorkerCa.loadOrCreate(tmp, "c7f3a9");
    X509Certificate cert = ca.signWorkerCertificate(WorkerKeys.generateP256().getPublic(), 9, Duration.ofDays(1));
    String pem = Pem.encode(Pem.CERTIFICATE, cert.getEncoded());
    assertEquals(cert, Pem.parseCertificates(pem).get(0));
    assertEquals(cert, Pem.parseCertificate(cert.getEncoded()));
    assertEquals(Fingerprints.sha256Hex(cert.getEncoded()), Fingerprints.certificateSha256(cert));
  }

  @Test
  void parseCertificateRejectsGarbage() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Pem.parseCertificate(new byte[] {1, 2, 3}));
    assertNotNull(e.getMessage());
  }

  @Test
  void privateKeyRoundTrips() throws Exception {
    KeyPair ec = WorkerKeys.generateP256();
    PrivateKey back = Pem.parsePrivateKey(Pem.privateKeyToPem(ec.getPrivate()));
    assertArrayEquals(ec.getPrivate().getEncoded(), back.getEncoded());
    assertTrue(Pem.privateKeyToPem(ec.getPrivate()).startsWith("-----BEGIN PRIVATE KEY-----\n"));

    KeyPair ed = KeyPairGenerator.getInstance("Ed25519", Pki.PROVIDER).generateKeyPair();
    PrivateKey edBack = Pem.parsePrivateKey(Pem.privateKeyToPem(ed.getPrivate()));
    assertArrayEquals(ed.getPrivate().getEncoded(), edBack.getEncoded());

    assertThrows(IllegalArgumentException.class, () -> Pem.parsePrivateKey("nothing here"));
  }

  @Test
  void writePrivateIsOwnerOnlyAndReplaces(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("deep/dir/secret.pem");
    SecureFiles.writePrivate(file, "one");
    assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file));
    assertEquals(PosixFilePermissions.fromString("rwx------"), Files.getPosixFilePermissions(file.getParent()));
    SecureFiles.writePrivate(file, "two".getBytes(StandardCharsets.UTF_8));
    assertEquals("two", Files.readString(file));
    assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file));
    try (var entries = Files.list(file.getParent())) {
      assertEquals(1, entries.count(), "no temp files left behind");
    }
  }
}
