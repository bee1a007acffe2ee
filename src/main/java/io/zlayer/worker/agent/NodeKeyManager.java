package io.zlayer.worker.agent;

import io.zlayer.worker.pki.Pem;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The node's one key and certificate as a key manager. Vert.x would otherwise turn the PEM
 * files into a password-protected key store for every connection, and that key derivation
 * (PBKDF2) dominated the cost of opening an mTLS channel.
 */
final class NodeKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "node";

  private final PrivateKey key;
  private final X509Certificate[] chain;

  NodeKeyManager(Identity identity) {
    this.key = Pem.parsePrivateKey(identity.keyPem());
    this.chain = Pem.parseCertificates(identity.certPem()).toArray(X509Certificate[]::new);
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return new String[] {ALIAS};
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return ALIAS;
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return ALIAS;
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return ALIAS.equals(alias) ? chain.clone() : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return ALIAS.equals(alias) ? key : null;
  }
}
