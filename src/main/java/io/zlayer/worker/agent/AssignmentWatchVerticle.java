package io.zlayer.worker.agent;

import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.WatchAssignmentsRequest;

/**
 * {@code WatchAssignments} from the last applied revision; publishes each new event on
 * {@link Addresses#WORKER_ASSIGNMENTS} once (a revision already applied is dropped) and
 * persists the revision.
 */
public final class AssignmentWatchVerticle extends StreamVerticle {
  private GrpcClientRequest<WatchAssignmentsRequest, AssignmentEvent> call;

  public AssignmentWatchVerticle(AgentContext ctx) {
    super(ctx, "WatchAssignments");
  }

  @Override
  protected void open(ControllerChannel channel, long nodeId, long epoch) {
    long from = ctx.state().lastRevision();
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.WatchAssignments)
        .compose(req -> {
          call = req;
          return req.send(WatchAssignmentsRequest.newBuilder().setNodeId(nodeId).setLastSeenRevision(from).build());
        })
        .onSuccess(response -> {
          if (response.status() != null && response.status() != GrpcStatus.OK) {
            failed(epoch, response.status() + ": " + response.statusMessage());
            return;
          }
          response.handler(event -> {
            if (current(epoch)) {
              deliver(event);
            }
          });
          watchEnd(response, epoch);
        })
        .onFailure(e -> failed(epoch, SessionVerticle.describe(e)));
  }

  private void deliver(AssignmentEvent event) {
    if (event.getRevision() <= ctx.state().lastRevision()) {
      return; // already applied: at-least-once delivery, exactly-once application
    }
    vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, Events.assignmentToJson(event));
    ctx.state().revisionApplied(event.getRevision());
  }

  @Override
  protected void close() {
    if (call != null) {
      call.cancel();
      call = null;
    }
  }
}
