package io.zlayer.worker.bus;

import java.util.List;

/**
 * Every event-bus address of the system and the JSON each carries. Verticles, the operator
 * CLI and external tools (through the loopback TCP bridges) use these names and nothing else.
 *
 * <p>Operator addresses live on the controller and are reachable over its bridge only with the
 * admin token (header {@value #ADMIN_TOKEN_HEADER}). They answer {@code {"error": "..."}} with
 * a failure code when a request is wrong.
 */
public final class Addresses {
  private Addresses() {
  }

  /** Bridge frame header carrying the contents of {@code <data_dir>/admin.token}. */
  public static final String ADMIN_TOKEN_HEADER = "admin_token";
  /** Worker bridge frame header carrying the contents of the worker's {@code <data_dir>/bridge.token}. */
  public static final String BRIDGE_TOKEN_HEADER = "bridge_token";

  // ---- controller: operator requests (request/reply) ----

  /** {@code {ttl_secs?: long, uses?: int}} -> {@code {token, token_id, expires_at}}. */
  public static final String OPERATOR_TOKEN_CREATE = "zlayer.operator.token.create";
  /** {@code {}} -> {@code {nodes: [node view]}} (see {@code NodeView}). */
  public static final String OPERATOR_NODES_LIST = "zlayer.operator.nodes.list";
  /** {@code {node_id, service, role?, indices: [int], command, env?: {k: v}}} -> {@code {revision}}. */
  public static final String OPERATOR_ASSIGN = "zlayer.operator.assign";
  /** {@code {node_id, service}} -> {@code {revision}}. */
  public static final String OPERATOR_UNASSIGN = "zlayer.operator.unassign";
  /** {@code {node_id, deadline_secs}} -> {@code {command_id}}. */
  public static final String OPERATOR_DRAIN = "zlayer.operator.drain";
  /** {@code {node_id}} -> {@code {node_id, state: "ready"}}: a draining node takes assignments again. */
  public static final String OPERATOR_UNDRAIN = "zlayer.operator.undrain";
  /** {@code {node_id, reason?}} -> {@code {command_id}}. */
  public static final String OPERATOR_SHUTDOWN = "zlayer.operator.shutdown";
  /** {@code {node_id, version, yaml}} -> {@code {command_id}}. */
  public static final String OPERATOR_PUSH_CONFIG = "zlayer.operator.push-config";
  /** {@code {node_id}} -> {@code {node_id, state: "quarantined"}}. */
  public static final String OPERATOR_REVOKE = "zlayer.operator.revoke";
  /**
   * {@code {node_id, reason?}} -> {@code {node_id, state: "deregistered"}}: removes a node that
   * will not come back, a revoked one too (its lease is dropped and its streams cut; joining again
   * needs a token).
   */
  public static final String OPERATOR_DEREGISTER = "zlayer.operator.deregister";
  /**
   * {@code {}} -> {@code {collected, node_ids}}: forgets every deregistered node (its record leaves
   * the controller's memory and the store; its event history stays). No node is given a collected id again.
   */
  public static final String OPERATOR_GC = "zlayer.operator.gc";

  /**
   * {@code {}} -> {@code {controllers: [{node_id, worker_addr, operator_addr, leader, self}]}}: the
   * cluster's live controllers (on etcd), or this one alone (embedded store), and which leads.
   */
  public static final String OPERATOR_CONTROLLERS = "zlayer.operator.controllers";

  /** Every operator address: the only inbound addresses the controller's bridge permits. */
  public static final List<String> OPERATOR_ADDRESSES = List.of(
      OPERATOR_TOKEN_CREATE, OPERATOR_NODES_LIST, OPERATOR_ASSIGN, OPERATOR_UNASSIGN,
      OPERATOR_DRAIN, OPERATOR_UNDRAIN, OPERATOR_SHUTDOWN, OPERATOR_PUSH_CONFIG, OPERATOR_REVOKE, OPERATOR_DEREGISTER, OPERATOR_GC,
      OPERATOR_CONTROLLERS);

  // ---- controller: events (publish) ----

  /** {@code {node_id, state, cause}} whenever a node's state changes. */
  public static final String NODE_STATE_CHANGED = "zlayer.controller.node.state";

  // ---- worker: internal and bridge-visible ----

  /**
   * Published by the session: {@code {state: "up", node_id, server, epoch}} once the streams are
   * open and the controller acked the first report, {@code {state: "down", node_id, server, cause,
   * epoch}} when they closed, {@code {state: "failed", server, cause}} when an attempt to connect or
   * join failed, {@code {state: "exit", node_id, cause?}} when the agent ends (a Shutdown command was
   * applied; with {@code cause}: the controller refused the node for good, exit code {@code Session.EXIT_REFUSED}).
   */
  public static final String WORKER_SESSION = "zlayer.worker.session";
  /** Worker-internal: {@code {}}; ask the status verticle to report now (e.g. a command result is waiting). */
  public static final String WORKER_REPORT_NOW = "zlayer.worker.report.now";
  /** One assignment event: {@code {revision, kind: "set"|"delete"|"drain"|"undrain", service?, assignments?: [{role, indices}], spec?: {command, env}}}. */
  public static final String WORKER_ASSIGNMENTS = "zlayer.worker.assignments";
  /** One command: {@code {id, kind: "drain"|"push_config"|"shutdown", deadline_secs?, version?, yaml?, reason?}}. */
  public static final String WORKER_COMMANDS = "zlayer.worker.commands";
  /** Request {@code {}} -> {@code {containers: [{service, role, replica, state, pid, restarts}], resources: {cpu_used, memory_used_bytes, gpu_used}}}. */
  public static final String WORKER_EXECUTOR_SNAPSHOT = "zlayer.worker.executor.snapshot";
  /** Worker-internal: {@code {}} -> {@code {revision}}, the last assignment revision the built-in executor stored. */
  public static final String WORKER_EXECUTOR_APPLIED = "zlayer.worker.executor.applied";
  /** Worker-internal: {@code {}}; a new identity: the executor forgets every assignment. */
  public static final String WORKER_EXECUTOR_RESET = "zlayer.worker.executor.reset";
  /** Worker-internal: {@code {deadline_secs}}; the executor stops everything by the deadline. */
  public static final String WORKER_EXECUTOR_DRAIN = "zlayer.worker.executor.drain";
  /**
   * An external executor ({@code executor: external}) applied every assignment event up to
   * {@code revision}: {@code {revision}} -> {@code {acked_revision, pending}}. Until acknowledged,
   * events are sent again (see {@link #WORKER_EXECUTOR_ATTACH}); the acknowledged revision is where a
   * restarted agent resumes. Fails with code 400 when {@code revision} is not a non-negative integer.
   */
  public static final String WORKER_EXECUTOR_ACK = "zlayer.worker.executor.ack";
  /**
   * An external executor is (back) on the bridge, subscribed to {@link #WORKER_ASSIGNMENTS}: {@code {}}
   * -> {@code {acked_revision, replayed}}; every event not yet acknowledged is published again on
   * {@link #WORKER_ASSIGNMENTS}, in revision order (they are also sent again every 5 s while nothing is
   * acknowledged).
   */
  public static final String WORKER_EXECUTOR_ATTACH = "zlayer.worker.executor.attach";
  /**
   * {@code {reason?}} -> {@code {node_id, state: "deregistered"}} once the node deregistered, its
   * workloads stopped and its identity was deleted; the agent then exits 0. Fails (code 409, nothing
   * changed) when the node cannot deregister now (not connected, legacy protocol), 500 when the
   * controller did not confirm (the agent stops, the node stays registered). Sent by {@code bin/worker leave}.
   */
  public static final String WORKER_LEAVE = "zlayer.worker.leave";
  /** What the worker's loopback bridge lets local tools receive (subscribe to). */
  public static final List<String> WORKER_BRIDGE_OUTBOUND = List.of(
      "zlayer.worker.session", "zlayer.worker.assignments", "zlayer.worker.commands", "zlayer.worker.executor.snapshot");
  /** What local tools may send into the worker (besides replies to the messages they received). */
  public static final List<String> WORKER_BRIDGE_INBOUND = List.of("zlayer.worker.report.now", WORKER_LEAVE,
      WORKER_EXECUTOR_ACK, WORKER_EXECUTOR_ATTACH);
}
