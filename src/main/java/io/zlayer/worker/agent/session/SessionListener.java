package io.zlayer.worker.agent.session;

import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.CommandResult;

/**
 * What a session tells its owner: the agent publishes it on the event bus and applies it; the
 * simulator counts and times it. Called on the session's context.
 */
public interface SessionListener {
  /** The node has credentials: loaded ({@code registered} false) or just registered. */
  default void joined(Credentials credentials, boolean registered) {
  }

  /** The streams are open and the controller acked the first report. */
  default void up(Credentials credentials, HostPort server, long epoch) {
  }

  /** An up session ended. */
  default void down(Credentials credentials, HostPort server, String cause, long epoch) {
  }

  /** An attempt to join ({@code joining}) or to connect failed before the session came up. */
  default void failed(HostPort server, Throwable cause, boolean joining) {
  }

  /** A new assignment event (each revision once). */
  default void assignment(AssignmentEvent event) {
  }

  /** Applies a new command (each id once); the result goes out with the next report. */
  default CommandResult command(CommandEvent command) {
    return CommandResult.newBuilder().setCommandId(command.getId()).setOk(true).build();
  }

  /** The command's id was stored and its result queued. */
  default void commandApplied(CommandEvent command) {
  }

  default void reported() {
  }

  default void acked() {
  }

  /** The controller refused the node for good; the session has ended. */
  default void refused(Credentials credentials, Refusal refusal) {
  }
}
