package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerCa;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Trust on first contact, pinned: before a worker shows its bootstrap token to a controller it
 * opens a TLS connection that trusts nothing yet, and accepts the server only if its chain holds
 * a CA whose SubjectPublicKeyInfo SHA-256 equals the token's {@code ca_sha256} and that CA signed
 * the server's certificate (kubeadm's discovery-token-ca-cert-hash). The CA found becomes the
 * only trust anchor of the registration connection.
 */
public final class CaPin {
  private static final int CONNECT_TIMEOUT_MS = 5000;

  private CaPin() {
  }

  /** Thrown when the server does not present the pinned CA; the token was not sent. */
  public static final class PinMismatchException extends Exception {
    PinMismatchException(String message) {
      super(message, null, false, false);
    }
  }

  /** The pinned CA certificate as PEM, or a failure saying why the server is not trusted. */
  public static Future<String> discover(Vertx vertx, HostPort server, String caSha256) {
    NetClient client = vertx.createNetClient(new NetClientOptions()
        .setSsl(true)
        .setTrustAll(true) // nothing is trusted yet: the pin below is the check
        .setHostnameVerificationAlgorithm("")
        .setConnectTimeout(CONNECT_TIMEOUT_MS));
    return client.connect(server.port(), server.host())
        .compose(socket -> {
          try {
            return Future.succeededFuture(match(socket.peerCertificates(), server, caSha256));
          } catch (Exception e) {
            return Future.<String>failedFuture(e);
          } finally {
            socket.close();
          }
        })
        .eventually(client::close);
  }

  private static String match(List<Certificate> chain, HostPort server, String caSha256) throws Exception {
    if (chain == null || chain.isEmpty() || !(chain.get(0) instanceof X509Certificate leaf)) {
      throw new PinMismatchException("controller " + server + " presented no certificate; the bootstrap token was not sent");
    }
    StringBuilder seen = new StringBuilder();
    for (Certificate c : chain) {
      X509Certificate candidate = (X509Certificate) c;
      String hash = WorkerCa.spkiSha256(candidate);
      seen.append(seen.length() == 0 ? "" : ", ").append(hash);
      if (hash.equalsIgnoreCase(caSha256)) {
        try {
          leaf.verify(candidate.getPublicKey());
        } catch (Exception e) {
          throw new PinMismatchException("controller " + server + " presents the pinned CA but its certificate is not signed by it; the bootstrap token was not sent");
        }
        return Pem.encode(Pem.CERTIFICATE, candidate.getEncoded());
      }
    }
    throw new PinMismatchException("controller " + server + " does not present the CA the bootstrap token pins (ca_sha256 "
        + caSha256 + "; server chain has " + seen + "); the bootstrap token was not sent");
  }
}
