package io.zlayer.worker.agent;

import io.zlayer.worker.config.WorkerOptions;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the worker's verticles share besides the event bus: the options, the resume points,
 * and the current channel to a controller (set by the session before it publishes "up").
 */
public final class AgentContext {
  private final WorkerOptions options;
  private final WorkerState state;
  private final Map<String, String> labels;
  private volatile TtlBounds ttlBounds;
  private volatile ControllerChannel channel;
  private volatile long nodeId;

  public AgentContext(WorkerOptions options, WorkerState state) {
    this.options = options;
    this.state = state;
    this.labels = new ConcurrentHashMap<>(options.labels());
    this.ttlBounds = new TtlBounds(options.heartbeat().minTtl(), options.heartbeat().maxTtl());
  }

  /**
   * Heartbeat TTL bounds on the worker. Only the maximum applies to a controller's TTL: reporting
   * more often than asked is safe, less often would let the lease expire. The minimum is the TTL
   * assumed before the first ack.
   */
  public record TtlBounds(java.time.Duration min, java.time.Duration max) {
    public int clamp(int ttlSecs) {
      return (int) Math.max(1, Math.min(max.toSeconds(), ttlSecs));
    }
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

  public ControllerChannel channel() {
    return channel;
  }

  void channel(ControllerChannel channel) {
    this.channel = channel;
  }

  public long nodeId() {
    return nodeId;
  }

  void nodeId(long nodeId) {
    this.nodeId = nodeId;
  }
}
