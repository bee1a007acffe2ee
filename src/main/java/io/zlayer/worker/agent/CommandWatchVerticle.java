package io.zlayer.worker.agent;

import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.WatchCommandsRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code WatchCommands} from the last applied command id. Each new command is applied once
 * (an id already applied is dropped), published on {@link Addresses#WORKER_COMMANDS}, and its
 * outcome reported with the next status.
 */
public final class CommandWatchVerticle extends StreamVerticle {
  private static final Logger LOG = LoggerFactory.getLogger(CommandWatchVerticle.class);

  private GrpcClientRequest<WatchCommandsRequest, CommandEvent> call;

  public CommandWatchVerticle(AgentContext ctx) {
    super(ctx, "WatchCommands");
  }

  @Override
  protected void open(ControllerChannel channel, long nodeId, long epoch) {
    long from = ctx.state().lastCommandId();
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.WatchCommands)
        .compose(req -> {
          call = req;
          return req.send(WatchCommandsRequest.newBuilder().setNodeId(nodeId).setLastSeenCommandId(from).build());
        })
        .onSuccess(response -> {
          if (response.status() != null && response.status() != GrpcStatus.OK) {
            failed(epoch, response.status() + ": " + response.statusMessage());
            return;
          }
          response.handler(command -> {
            if (current(epoch)) {
              apply(command);
            }
          });
          watchEnd(response, epoch);
        })
        .onFailure(e -> failed(epoch, SessionVerticle.describe(e)));
  }

  private void apply(CommandEvent command) {
    if (command.getId() <= ctx.state().lastCommandId()) {
      return;
    }
    JsonObject json = Events.commandToJson(command);
    vertx.eventBus().publish(Addresses.WORKER_COMMANDS, json);
    String outcome;
    boolean ok = true;
    switch (command.getCommandCase()) {
      case DRAIN -> {
        vertx.eventBus().send(Addresses.WORKER_EXECUTOR_DRAIN,
            new JsonObject().put("deadline_secs", command.getDrain().getDeadlineSecs()));
        outcome = "draining, deadline " + command.getDrain().getDeadlineSecs() + "s";
      }
      case PUSH_CONFIG -> {
        try {
          outcome = PushedConfig.apply(ctx, command.getPushConfig().getYaml());
          outcome = "config version " + command.getPushConfig().getVersion() + " applied: " + outcome;
        } catch (IllegalArgumentException e) {
          ok = false;
          outcome = "config version " + command.getPushConfig().getVersion() + " refused: " + e.getMessage();
        }
      }
      case SHUTDOWN -> outcome = "shutting down: " + command.getShutdown().getReason();
      default -> {
        ok = false;
        outcome = "unknown command";
      }
    }
    LOG.info("command {} {}", command.getId(), outcome);
    long id = command.getId();
    boolean applied = ok;
    String message = outcome;
    ctx.state().commandApplied(id).onComplete(v -> {
      vertx.eventBus().send(Addresses.WORKER_COMMAND_RESULT,
          new JsonObject().put("command_id", id).put("ok", applied).put("message", message));
      if (command.hasShutdown()) {
        vertx.eventBus().send(Addresses.WORKER_SHUTDOWN, new JsonObject()
            .put("reason", command.getShutdown().getReason()).put("exit", true));
      }
    });
  }

  @Override
  protected void close() {
    if (call != null) {
      call.cancel();
      call = null;
    }
  }
}
