package io.zlayer.worker.agent;

import io.zlayer.worker.agent.session.TtlBounds;
import io.zlayer.worker.config.WorkerOptions;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the worker's verticles share besides the event bus: the options, the resume points,
 * the labels and TTL bounds (changed by PushConfig), and the node id once known.
 */
public final class AgentContext {
  private final WorkerOptions options;
  private final WorkerState state;
  private final Map<String, String> labels;
  private volatile TtlBounds ttlBounds;
  private volatile long nodeId;
  private final io.vertx.core.Promise<Integer> exit = io.vertx.core.Promise.promise();
  private volatile boolean keepWorkloadsOnExit;

  public AgentContext(WorkerOptions options, WorkerState state) {
    this.options = options;
    this.state = state;
    this.labels = new ConcurrentHashMap<>(options.labels());
    this.ttlBounds = new TtlBounds(options.heartbeat().minTtl(), options.heartbeat().maxTtl());
  }

  public TtlBounds ttlBounds() {
    return ttlBounds;
  }

  void ttlBounds(TtlBounds bounds) {
    this.ttlBounds = bounds;
  }

  public WorkerOptions options() {
    return options;
  }

  public WorkerState state() {
    return state;
  }

  /** Current labels: the configured ones, as changed by PushConfig. */
  public Map<String, String> labels() {
    return labels;
  }

  /** Completes with the process's exit code when the agent should end. */
  public io.vertx.core.Future<Integer> exit() {
    return exit.future();
  }

  void exit(int code) {
    exit.tryComplete(code);
  }

  /** Ends the agent with {@code code}, leaving its workloads running (the node is still registered). */
  void exitKeepingWorkloads(int code) {
    keepWorkloadsOnExit = true;
    exit.tryComplete(code);
  }

  /** Whether the agent ended itself in a way that keeps its workloads running (see {@link #exitKeepingWorkloads}). */
  public boolean keepWorkloadsOnExit() {
    return keepWorkloadsOnExit;
  }

  public long nodeId() {
    return nodeId;
  }

  void nodeId(long nodeId) {
    this.nodeId = nodeId;
  }
}
