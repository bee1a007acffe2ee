package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Events;

/**
 * What an operator asks of a node: assign or unassign a service (the assignment log) and send it
 * a command (the command log). The node must be live ({@link NodeService#live}); a draining node
 * takes no new assignment, and only a service the node has can be unassigned. An order is checked
 * and appended in the node's turn ({@link NodeDirectory#inTurn}): a drain cannot slip between.
 */
public final class NodeOrders {
  private final NodeService nodes;
  private final NodeDirectory directory;
  private final NodeEventLog assignments;
  private final NodeEventLog commands;

  public NodeOrders(NodeService nodes, NodeDirectory directory, NodeEventLog assignments, NodeEventLog commands) {
    this.nodes = nodes;
    this.directory = directory;
    this.assignments = assignments;
    this.commands = commands;
  }

  /** Sets {@code service} on the node; returns the event's revision. FAILED_PRECONDITION when draining. */
  public Future<Long> assign(long nodeId, String service, JsonArray replicas, JsonObject spec) {
    return directory.inTurn(nodeId, () -> {
      NodeRecord node = nodes.live(nodeId);
      if (node.state() == NodeState.DRAINING) {
        throw ControlPlaneException.failedPrecondition("node " + nodeId
            + " is draining and takes no new assignment; undrain it first (bin/worker undrain " + nodeId + ")");
      }
      return assignments.append(nodeId, Events.set(service, replicas, spec));
    });
  }

  /** Removes {@code service} from the node; returns the event's revision. NOT_FOUND when it has no such service. */
  public Future<Long> unassign(long nodeId, String service) {
    return directory.inTurn(nodeId, () -> {
      nodes.live(nodeId);
      return assignments.state(nodeId).compose(state -> {
        if (!AssignmentFold.services(state).containsKey(service)) {
          throw ControlPlaneException.notFound("node " + nodeId + " has no service " + service);
        }
        return assignments.append(nodeId, Events.delete(service));
      });
    });
  }

  /** Appends a command (shutdown, push-config) for a live node; returns its command id. */
  public Future<Long> command(long nodeId, JsonObject command) {
    return directory.inTurn(nodeId, () -> {
      nodes.live(nodeId);
      return commands.append(nodeId, command).onSuccess(id -> nodes.commandWritten(command));
    });
  }
}
