package io.zlayer.worker.agent;

import io.zlayer.worker.pki.NodeIdentity;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;

/**
 * A worker's persisted mTLS identity: {@code cert.pem}, {@code key.pem}, {@code ca.pem} in the
 * identity directory, each mode 0600. The node id and cluster id are read from the certificate.
 * Methods here block (disk); call them on a worker thread.
 */
public record Identity(String certPem, String keyPem, String caPem, long nodeId, String clusterId)
    implements io.zlayer.worker.agent.session.Credentials {
  public static final String CERT = "cert.pem";
  public static final String KEY = "key.pem";
  public static final String CA = "ca.pem";

  public static Identity of(String certPem, String keyPem, String caPem) {
    X509Certificate cert = Pem.parseCertificates(certPem).get(0);
    NodeIdentity id = NodeIdentity.of(cert).orElseThrow(() ->
        new IllegalArgumentException("certificate carries no node identity"));
    return new Identity(certPem, keyPem, caPem, id.nodeId(), id.clusterId());
  }

  /** The identity in {@code dir}, or empty when none was persisted; a partial one is an error. */
  public static Optional<Identity> load(Path dir) throws IOException {
    Path cert = dir.resolve(CERT);
    Path key = dir.resolve(KEY);
    Path ca = dir.resolve(CA);
    boolean any = Files.exists(cert) || Files.exists(key) || Files.exists(ca);
    if (!any) {
      return Optional.empty();
    }
    for (Path p : List.of(cert, key, ca)) {
      if (!Files.exists(p)) {
        throw new IOException("identity in " + dir + " is incomplete: " + p.getFileName()
            + " is missing (remove the directory and join again with a new token)");
      }
    }
    try {
      return Optional.of(of(Files.readString(cert), SecureFiles.readPrivate(key), Files.readString(ca)));
    } catch (IllegalArgumentException e) {
      throw new IOException("identity in " + dir + " is unreadable: " + e.getMessage());
    }
  }

  public void save(Path dir) throws IOException {
    // key first: a crash leaves no certificate without its key.
    SecureFiles.writePrivate(dir.resolve(KEY), keyPem);
    SecureFiles.writePrivate(dir.resolve(CA), caPem);
    SecureFiles.writePrivate(dir.resolve(CERT), certPem);
  }

  public X509Certificate certificate() {
    return Pem.parseCertificates(certPem).get(0);
  }

  @Override
  public String toString() {
    return "Identity[node_id=" + nodeId + ", cluster_id=" + clusterId + "]";
  }
}
