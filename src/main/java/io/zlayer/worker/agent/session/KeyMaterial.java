package io.zlayer.worker.agent.session;

/** A fresh node key (PEM) and the CSR signed with it (DER). */
public record KeyMaterial(String keyPem, byte[] csrDer) {
  @Override
  public String toString() {
    return "KeyMaterial[csr " + csrDer.length + " B]";
  }
}
