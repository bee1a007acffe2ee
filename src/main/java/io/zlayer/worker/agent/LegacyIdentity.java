package io.zlayer.worker.agent;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.SecureFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A legacy HTTP worker's credentials ({@code <identity_dir>/legacy.json}, mode 0600): its node
 * id, its {@code X-ZLayer-Internal-Token} and the pinned cluster CA. Blocking I/O.
 */
public record LegacyIdentity(long nodeId, String clusterId, String internalToken, String caPem)
    implements io.zlayer.worker.agent.session.Credentials {
  public static final String FILE = "legacy.json";

  public static Optional<LegacyIdentity> load(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    JsonObject json = new JsonObject(Files.readString(file));
    return Optional.of(new LegacyIdentity(json.getLong("node_id"), json.getString("cluster_id"),
        json.getString("internal_token"), json.getString("ca_pem")));
  }

  public void save(Path dir) throws IOException {
    SecureFiles.writePrivate(dir.resolve(FILE), new JsonObject().put("node_id", nodeId).put("cluster_id", clusterId)
        .put("internal_token", internalToken).put("ca_pem", caPem).encode());
  }

  @Override
  public String toString() {
    return "LegacyIdentity[node_id=" + nodeId + ", cluster_id=" + clusterId + "]";
  }
}
