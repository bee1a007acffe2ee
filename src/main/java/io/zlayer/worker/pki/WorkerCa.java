package io.zlayer.worker.pki;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Certificate;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.util.IPAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the cluster's worker CA: its key and self-signed certificate on disk, and every certificate
 * it issues (worker client certificates and the controller's server identity). Immutable and
 * thread-safe once loaded.
 */
public final class WorkerCa {
  public static final Duration CA_VALIDITY = Duration.ofDays(3650);
  public static final String CA_CERT_FILE = "ca.pem";
  public static final String CA_KEY_FILE = "ca-key.pem";
  public static final String CA_COMMON_NAME_PREFIX = "zlayer worker CA ";
  public static final String SERVER_COMMON_NAME = "zlayer-controller";
  public static final Duration SERVER_VALIDITY = Duration.ofDays(365);
  /** Backdating absorbs clock skew between controller and workers. */
  static final Duration CLOCK_SKEW = Duration.ofMinutes(1);
  /** 159 bits keeps the DER INTEGER positive within RFC 5280's 20-octet limit. */
  static final int SERIAL_BITS = 159;
  private static final List<String> DEFAULT_SERVER_NAMES = List.of("localhost", "127.0.0.1", "::1");
  /** LDH hostname, optionally with a leading wildcard label; the JDK rejects anything else in a DNS SAN. */
  private static final Pattern DNS_NAME = Pattern.compile(
      "(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\\.?");
  private static final Logger log = LoggerFactory.getLogger(WorkerCa.class);

  private final String clusterId;
  private final X509Certificate certificate;
  private final PrivateKey privateKey;
  private final SecureRandom random = new SecureRandom();
  /** Decides every validity: issued certificates' notBefore/notAfter and whether a certificate is valid now. */
  private final Clock clock;

  private WorkerCa(String clusterId, X509Certificate certificate, PrivateKey privateKey, Clock clock) {
    this.clusterId = clusterId;
    this.certificate = certificate;
    this.privateKey = privateKey;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Loads the CA from {@code dir} or creates it there. A half-present CA (one file only) is an error
   * rather than silently regenerated, because a new CA would orphan every issued worker certificate.
   */
  public static WorkerCa loadOrCreate(Path dir, String clusterId) throws IOException {
    return loadOrCreate(dir, clusterId, Clock.systemUTC());
  }

  /** As {@link #loadOrCreate(Path, String)}, with the clock that decides every validity. */
  public static WorkerCa loadOrCreate(Path dir, String clusterId, Clock clock) throws IOException {
    Pki.ensureProvider();
    // Validates the cluster id as a SPIFFE trust domain up front.
    new NodeIdentity(clusterId, 0);
    Path certFile = dir.resolve(CA_CERT_FILE);
    Path keyFile = dir.resolve(CA_KEY_FILE);
    boolean haveCert = Files.exists(certFile);
    boolean haveKey = Files.exists(keyFile);
    if (haveCert && haveKey) {
      return load(certFile, keyFile, clusterId, clock);
    }
    if (haveCert || haveKey) {
      throw new IOException("worker CA in " + dir + " is incomplete: " + (haveCert ? keyFile : certFile)
          + " is missing while " + (haveCert ? certFile : keyFile)
          + " exists; restore the missing file or remove both to create a new CA");
    }
    return create(certFile, keyFile, clusterId, clock);
  }

  public X509Certificate certificate() {
    return certificate;
  }

  public byte[] certificateDer() {
    try {
      return certificate.getEncoded();
    } catch (CertificateEncodingException e) {
      throw new IllegalStateException("CA certificate cannot be encoded", e);
    }
  }

  public String certificatePem() {
    return Pem.encode(Pem.CERTIFICATE, certificateDer());
  }

  /** Hex lowercase SHA-256 of the CA certificate's DER SubjectPublicKeyInfo (kubeadm discovery hash). */
  public String caSha256() {
    return spkiSha256(certificate);
  }

  /** Hex SHA-256 of the SubjectPublicKeyInfo bytes exactly as they appear in the certificate. */
  public static String spkiSha256(X509Certificate cert) {
    try {
      byte[] spki = Certificate.getInstance(cert.getEncoded()).getSubjectPublicKeyInfo()
          .getEncoded(ASN1Encoding.DER);
      return Fingerprints.sha256Hex(spki);
    } catch (CertificateEncodingException | IOException e) {
      throw new IllegalArgumentException("cannot encode certificate public key: " + e.getMessage(), e);
    }
  }

  /**
   * Fresh EC P-256 key and a CA-signed certificate for the controller's TLS server. SANs: localhost,
   * 127.0.0.1, ::1 plus {@code extraNames} (IP literals become IP SANs, others DNS SANs).
   */
  public ServerIdentity issueServerIdentity(List<String> extraNames) {
    Set<String> names = new LinkedHashSet<>(DEFAULT_SERVER_NAMES);
    for (String name : extraNames) {
      String trimmed = Objects.requireNonNull(name, "server name").trim();
      if (!trimmed.isEmpty()) {
        names.add(trimmed);
      }
    }
    List<GeneralName> sans = new ArrayList<>();
    for (String name : names) {
      sans.add(serverName(name));
    }
    KeyPair keyPair = WorkerKeys.generateP256();
    Instant now = clock.instant();
    X509v3CertificateBuilder builder = leafBuilder(keyPair.getPublic(), cn(SERVER_COMMON_NAME), now, leafNotAfter(now, SERVER_VALIDITY));
    try {
      builder.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(sans.toArray(GeneralName[]::new)));
      // clientAuth too: the controller may also dial peers with the same identity.
      builder.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
    } catch (CertIOException e) {
      throw new IllegalStateException("cannot build server certificate extensions", e);
    }
    X509Certificate leaf = sign(builder);
    String chain = Pem.encode(Pem.CERTIFICATE, encoded(leaf)) + certificatePem();
    return new ServerIdentity(Pem.privateKeyToPem(keyPair.getPrivate()), chain);
  }

  /**
   * Signs a worker client certificate for an already verified CSR public key. notAfter never exceeds
   * the CA's own notAfter, since a leaf outliving its issuer would fail validation anyway.
   */
  public X509Certificate signWorkerCertificate(PublicKey subjectKey, long nodeId, Duration validity) {
    try {
      return new JcaX509CertificateConverter().getCertificate(issueWorkerCertificate(subjectKey, nodeId, validity).holder());
    } catch (CertificateException e) {
      throw new IllegalStateException("cannot convert issued certificate", e);
    }
  }

  /**
   * A certificate as issued: its DER and the facts the controller stores, computed once at issue
   * (nothing is parsed back from the encoding).
   */
  public record IssuedCertificate(org.bouncycastle.cert.X509CertificateHolder holder, byte[] der, Instant notAfter,
                                  String sha256) {
    static IssuedCertificate of(org.bouncycastle.cert.X509CertificateHolder holder, Instant notAfter) {
      try {
        byte[] der = holder.getEncoded();
        return new IssuedCertificate(holder, der, notAfter, Fingerprints.sha256Hex(der));
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    }

    public String serialHex() {
      return holder.getSerialNumber().toString(16);
    }
  }

  /** {@link #signWorkerCertificate} without turning the result into a JDK certificate object (registration's hot path). */
  public IssuedCertificate issueWorkerCertificate(PublicKey subjectKey, long nodeId, Duration validity) {
    Objects.requireNonNull(subjectKey, "subjectKey");
    if (validity == null || validity.isNegative() || validity.isZero()) {
      throw new IllegalArgumentException("validity must be positive: " + validity);
    }
    NodeIdentity identity = new NodeIdentity(clusterId, nodeId);
    Instant now = clock.instant();
    Instant notAfter = leafNotAfter(now, validity);
    X509v3CertificateBuilder builder = leafBuilder(subjectKey, cn(NodeIdentity.commonName(nodeId)), now, notAfter);
    try {
      builder.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, identity.uri().toString())));
      builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
    } catch (CertIOException e) {
      throw new IllegalStateException("cannot build worker certificate extensions", e);
    }
    try {
      return IssuedCertificate.of(builder.build(WorkerKeys.signer(privateKey)), notAfter.truncatedTo(ChronoUnit.SECONDS));
    } catch (RuntimeException e) {
      throw new IllegalStateException("cannot sign worker certificate", e);
    }
  }

  /**
   * True when {@code cert} is a leaf signed by this CA (issuer matches, signature verifies with the CA
   * key) and now is inside its validity. The CA certificate itself is not an issued leaf.
   */
  public boolean issued(X509Certificate cert) {
    if (cert == null || cert.getBasicConstraints() >= 0) {
      return false;
    }
    try {
      if (!cert.getIssuerX500Principal().equals(certificate.getSubjectX500Principal())) {
        return false;
      }
      cert.checkValidity(Date.from(clock.instant()));
      Signature verifier = Signature.getInstance(cert.getSigAlgName(), Pki.PROVIDER);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(cert.getTBSCertificate());
      return verifier.verify(cert.getSignature());
    } catch (Exception e) {
      // Expired, not yet valid, unknown algorithm or malformed signature: all mean "not ours".
      return false;
    }
  }

  public String clusterId() {
    return clusterId;
  }

  /**
   * A secret every controller sharing this CA derives alike, and nobody without the CA key can:
   * HMAC-SHA256 keyed by the CA private key over {@code purpose} and the cluster id. The key itself
   * never leaves this class; the TLS session-ticket keys are derived from this.
   */
  public byte[] derivedSecret(String purpose) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(privateKey.getEncoded(), "HmacSHA256"));
      return mac.doFinal(("zlayer " + purpose + " " + clusterId).getBytes(StandardCharsets.UTF_8));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is unavailable: " + e.getMessage(), e);
    }
  }

  private static WorkerCa create(Path certFile, Path keyFile, String clusterId, Clock clock) throws IOException {
    KeyPair keyPair = WorkerKeys.generateP256();
    Instant now = clock.instant();
    X500Name subject = cn(CA_COMMON_NAME_PREFIX + clusterId);
    JcaX509ExtensionUtils ext = extensionUtils();
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, randomSerial(new SecureRandom()),
        Date.from(now.minus(CLOCK_SKEW)), Date.from(now.plus(CA_VALIDITY)), subject, keyPair.getPublic());
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
    builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keyPair.getPublic()));
    X509Certificate cert = toCertificate(builder, keyPair.getPrivate());

    // Key first, certificate last: ca.pem existing means the CA is complete.
    SecureFiles.writePrivate(keyFile, Pem.privateKeyToPem(keyPair.getPrivate()));
    Path certTemp = Files.createTempFile(certFile.toAbsolutePath().getParent(), ".ca", ".pem.tmp");
    try {
      Files.writeString(certTemp, Pem.encode(Pem.CERTIFICATE, encoded(cert)), StandardCharsets.UTF_8);
      Files.move(certTemp, certFile, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(certTemp);
    }
    WorkerCa ca = new WorkerCa(clusterId, cert, keyPair.getPrivate(), clock);
    log.info("Created worker CA for cluster {} in {} (sha256 {})", clusterId, certFile.getParent(), ca.caSha256());
    return ca;
  }

  private static WorkerCa load(Path certFile, Path keyFile, String clusterId, Clock clock) throws IOException {
    X509Certificate cert;
    PrivateKey key;
    try {
      List<X509Certificate> certs = Pem.parseCertificates(Files.readString(certFile, StandardCharsets.UTF_8));
      if (certs.isEmpty()) {
        throw new IOException(certFile + " contains no CERTIFICATE block");
      }
      cert = certs.get(0);
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot read worker CA certificate " + certFile + ": " + e.getMessage(), e);
    }
    try {
      key = Pem.parsePrivateKey(Files.readString(keyFile, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot read worker CA key " + keyFile + ": " + e.getMessage(), e);
    }
    X500Principal expected = new X500Principal(cn(CA_COMMON_NAME_PREFIX + clusterId).getEncoded(ASN1Encoding.DER));
    if (!expected.equals(cert.getSubjectX500Principal())) {
      throw new IOException("worker CA in " + certFile.getParent() + " belongs to "
          + cert.getSubjectX500Principal().getName() + ", not to cluster " + clusterId);
    }
    if (!keyMatches(key, cert.getPublicKey())) {
      throw new IOException(keyFile + " does not match the public key in " + certFile);
    }
    try {
      cert.checkValidity(Date.from(clock.instant()));
    } catch (CertificateException e) {
      log.warn("Worker CA certificate {} is outside its validity period: {}", certFile, e.getMessage());
    }
    return new WorkerCa(clusterId, cert, key, clock);
  }

  /** Proves the key pair belongs together by a sign/verify round trip. */
  private static boolean keyMatches(PrivateKey key, PublicKey publicKey) {
    try {
      byte[] probe = "zlayer worker CA key check".getBytes(StandardCharsets.UTF_8);
      Signature signer = Signature.getInstance(WorkerKeys.EC_SIGNATURE, Pki.PROVIDER);
      signer.initSign(key);
      signer.update(probe);
      byte[] sig = signer.sign();
      Signature verifier = Signature.getInstance(WorkerKeys.EC_SIGNATURE, Pki.PROVIDER);
      verifier.initVerify(publicKey);
      verifier.update(probe);
      return verifier.verify(sig);
    } catch (Exception e) {
      return false;
    }
  }

  /** Common leaf fields: random serial, backdated notBefore, digitalSignature, CA:false, SKI and AKI. */
  private Instant leafNotAfter(Instant now, Duration validity) {
    Instant notAfter = now.plus(validity);
    Instant caNotAfter = certificate.getNotAfter().toInstant();
    return notAfter.isAfter(caNotAfter) ? caNotAfter : notAfter;
  }

  private X509v3CertificateBuilder leafBuilder(PublicKey subjectKey, X500Name subject, Instant now, Instant notAfter) {
    JcaX509ExtensionUtils ext = extensionUtils();
    // Issuer name and authority key id come from the CA certificate (encoding matches byte for
    // byte, for path building); both are computed once, not per certificate.
    X509v3CertificateBuilder builder = new X509v3CertificateBuilder(issuerName(), randomSerial(random),
        x509Time(now.minus(CLOCK_SKEW)), x509Time(notAfter), subject,
        org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded()));
    try {
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      builder.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
      builder.addExtension(Extension.authorityKeyIdentifier, false, authorityKeyId());
    } catch (CertIOException | CertificateEncodingException e) {
      throw new IllegalStateException("cannot build certificate extensions", e);
    }
    return builder;
  }

  /** RFC 5280 time: UTCTime through 2049, GeneralizedTime after. */
  private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter GENERALIZED_TIME =
      DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final Instant UTC_TIME_END = Instant.parse("2050-01-01T00:00:00Z");

  /**
   * BouncyCastle's {@code Time(Date)} builds a {@code SimpleDateFormat} for every value, and one
   * registration needed four of them (two to encode, two to parse back): a measurable share of
   * the registration path, so the encoding is done here with a shared formatter.
   */
  static org.bouncycastle.asn1.x509.Time x509Time(Instant t) {
    return t.isBefore(UTC_TIME_END)
        ? new org.bouncycastle.asn1.x509.Time(new org.bouncycastle.asn1.DERUTCTime(UTC_TIME.format(t)))
        : new org.bouncycastle.asn1.x509.Time(new org.bouncycastle.asn1.DERGeneralizedTime(GENERALIZED_TIME.format(t)));
  }

  private volatile X500Name issuerName;
  private volatile org.bouncycastle.asn1.x509.AuthorityKeyIdentifier authorityKeyId;

  private X500Name issuerName() {
    if (issuerName == null) {
      issuerName = X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded());
    }
    return issuerName;
  }

  private org.bouncycastle.asn1.x509.AuthorityKeyIdentifier authorityKeyId() throws CertificateEncodingException {
    if (authorityKeyId == null) {
      authorityKeyId = extensionUtils().createAuthorityKeyIdentifier(certificate);
    }
    return authorityKeyId;
  }

  private X509Certificate sign(X509v3CertificateBuilder builder) {
    return toCertificate(builder, privateKey);
  }

  private static X509Certificate toCertificate(X509v3CertificateBuilder builder, PrivateKey signingKey) {
    try {
      // JDK converter (no provider) so callers get standard certificate objects.
      return new JcaX509CertificateConverter().getCertificate(builder.build(WorkerKeys.signer(signingKey)));
    } catch (CertificateException e) {
      throw new IllegalStateException("cannot convert issued certificate", e);
    }
  }

  /** Positive, non-zero random serial; with 159 random bits collisions are negligible. */
  private static BigInteger randomSerial(SecureRandom random) {
    BigInteger serial;
    do {
      serial = new BigInteger(SERIAL_BITS, random);
    } while (serial.signum() == 0);
    return serial;
  }

  private static GeneralName serverName(String name) {
    String literal = name.startsWith("[") && name.endsWith("]") ? name.substring(1, name.length() - 1) : name;
    if (IPAddress.isValid(literal)) {
      return new GeneralName(GeneralName.iPAddress, literal);
    }
    String dns = name.toLowerCase(Locale.ROOT);
    if (dns.length() > 253 || !DNS_NAME.matcher(dns).matches()) {
      throw new IllegalArgumentException("not an IP address or DNS name: " + name);
    }
    return new GeneralName(GeneralName.dNSName, dns);
  }

  private static X500Name cn(String commonName) {
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
  }

  private static JcaX509ExtensionUtils extensionUtils() {
    try {
      return new JcaX509ExtensionUtils();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 unavailable for key identifiers", e);
    }
  }

  private static byte[] encoded(X509Certificate cert) {
    try {
      return cert.getEncoded();
    } catch (CertificateEncodingException e) {
      throw new IllegalStateException("certificate cannot be encoded", e);
    }
  }
}
