/**
 * Worker PKI: the cluster's worker CA, CSR checks, certificate issuance and PEM/file helpers.
 *
 * <p>Plain blocking Java (file I/O, crypto); callers run it on worker threads.
 */
package io.zlayer.worker.pki;
