package io.zlayer.worker.agent;

import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.pki.BootstrapToken;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

/**
 * What both worker sessions (gRPC and legacy HTTP) check before they try a controller, and how
 * they read the bootstrap token: one wording for the errors an operator sees.
 */
final class JoinPreflight {
  private JoinPreflight() {
  }

  /** The configured controllers; none is a configuration error. */
  static List<HostPort> servers(WorkerOptions options) {
    List<HostPort> servers = options.serverAddresses();
    if (servers.isEmpty()) {
      throw new IllegalStateException("no servers configured: list at least one controller under 'servers'");
    }
    return servers;
  }

  /** Without a persisted identity the worker needs its token file. Blocking (checks the disk). */
  static void requireTokenUnless(boolean hasIdentity, WorkerOptions options) {
    if (!hasIdentity && !Files.isRegularFile(options.tokenFile())) {
      throw new IllegalStateException("no bootstrap token and no identity: " + options.tokenFile()
          + " does not exist and " + options.identityDir() + " holds no identity. Mint a token on the controller"
          + " with `bin/worker token create` and write it to " + options.tokenFile());
    }
  }

  /** The bootstrap token from {@code token_file}. Blocking. */
  static BootstrapToken readToken(WorkerOptions options) throws IOException, BootstrapToken.MalformedTokenException {
    return BootstrapToken.decode(Files.readString(options.tokenFile()).trim());
  }
}
