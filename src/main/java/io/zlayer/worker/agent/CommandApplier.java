package io.zlayer.worker.agent;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.CommandResult;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a controller command on this node: publishes it on {@link Addresses#WORKER_COMMANDS}
 * for local tools, hands a drain to the executor, applies a pushed config; the outcome goes back
 * with the next status report. A Shutdown is carried out after its id was stored.
 */
final class CommandApplier {
  private static final Logger LOG = LoggerFactory.getLogger(CommandApplier.class);

  private final Vertx vertx;
  private final AgentContext ctx;
  private final Consumer<String> shutdown;

  CommandApplier(Vertx vertx, AgentContext ctx, Consumer<String> shutdown) {
    this.vertx = vertx;
    this.ctx = ctx;
    this.shutdown = shutdown;
  }

  CommandResult apply(CommandEvent command) {
    vertx.eventBus().publish(Addresses.WORKER_COMMANDS, Events.commandToJson(command));
    String outcome;
    boolean ok = true;
    switch (command.getCommandCase()) {
      case DRAIN -> {
        vertx.eventBus().send(Addresses.WORKER_EXECUTOR_DRAIN,
            new JsonObject().put("deadline_secs", command.getDrain().getDeadlineSecs()));
        outcome = "draining, deadline " + command.getDrain().getDeadlineSecs() + "s";
      }
      case PUSH_CONFIG -> {
        String version = "config version " + command.getPushConfig().getVersion();
        try {
          String yaml = command.getPushConfig().getYaml();
          outcome = version + " applied: " + PushedConfig.apply(ctx, yaml);
          Path dataDir = ctx.options().dataDir();
          vertx.executeBlocking(() -> {
            PushedConfig.remember(dataDir, yaml);
            return null;
          }).onFailure(e -> LOG.warn("cannot store the pushed config in {}: {}; it is lost on restart", dataDir, e.toString()));
        } catch (IllegalArgumentException e) {
          ok = false;
          outcome = version + " refused: " + e.getMessage();
        }
      }
      case SHUTDOWN -> outcome = "shutting down: " + command.getShutdown().getReason();
      default -> {
        ok = false;
        outcome = "unknown command";
      }
    }
    LOG.info("command {} {}", command.getId(), outcome);
    return CommandResult.newBuilder().setCommandId(command.getId()).setOk(ok).setMessage(outcome).build();
  }

  /** After the command's id was stored: a Shutdown deregisters and ends the process. */
  void applied(CommandEvent command) {
    if (command.hasShutdown()) {
      shutdown.accept(command.getShutdown().getReason());
    }
  }
}
