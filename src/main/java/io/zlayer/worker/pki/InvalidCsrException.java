package io.zlayer.worker.pki;

/** Thrown when a CSR is not acceptable; message says why, safe to send to the peer. */
public final class InvalidCsrException extends Exception {
  private static final long serialVersionUID = 1L;

  public InvalidCsrException(String message) {
    super(message);
  }
}
