package io.zlayer.worker.agent.session;

import io.vertx.core.Future;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;

/**
 * The wire under a {@link Session}: gRPC over mTLS (three streams) or the legacy HTTP API
 * (register, long-poll, status). A transport only speaks; when to join, which server, how long
 * to wait, what to resume from and when to report is the session's.
 */
public interface Transport {
  /** Joins through {@code server} with the ticket's token and the CSR; the credentials are not saved yet. */
  Future<Credentials> register(HostPort server, JoinTicket ticket, KeyMaterial keys, WorkerProfile profile);

  /**
   * Opens the node's session on {@code server}, resuming after the given revision and command id.
   * Completes once the streams are open; {@code events} then hears what arrives, and
   * {@link Events#closed} once when the link ends. A refusal of the node's identity fails with a
   * {@link Refusal}.
   */
  Future<Link> open(HostPort server, Credentials credentials, long lastRevision, long lastCommandId, Events events);

  /** What a link delivers to its session (on the session's context). */
  interface Events {
    void assignment(AssignmentEvent event);

    void command(CommandEvent command);

    /** The controller accepted a report and asks for the next within {@code ttlSecs}. */
    void ack(int ttlSecs);

    void closed(Throwable cause);
  }

  /** One open session with one controller. */
  interface Link {
    /** Sends a status report; completes when it was written (gRPC) or answered (HTTP). */
    Future<Void> report(StatusReport report);

    /** Rotates the node certificate over this link (gRPC only). */
    Future<Credentials> renew(Credentials current, KeyMaterial keys);

    /** Leaves the cluster (gRPC only; the legacy API has no deregistration). */
    Future<Void> deregister(long nodeId, String reason);

    /** Ends the link without reporting it through {@link Events#closed}. */
    Future<Void> close();
  }
}
