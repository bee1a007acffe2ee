package io.zlayer.worker.pki;

/** TLS key + certificate chain for a server, PEM, ready for Vert.x PemKeyCertOptions. Chain = leaf then CA. */
public record ServerIdentity(String keyPem, String certChainPem) {
  /** Keeps the private key out of logs that print the record. */
  @Override
  public String toString() {
    return "ServerIdentity[keyPem=<redacted>, certChainPem=" + certChainPem.length() + " chars]";
  }
}
