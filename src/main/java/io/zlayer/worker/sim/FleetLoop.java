package io.zlayer.worker.sim;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClient;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.transport.GrpcTransport;
import io.zlayer.worker.agent.transport.LegacyTransport;
import io.zlayer.worker.config.HostPort;
import java.util.HashMap;
import java.util.Map;

/**
 * One event loop of the simulator and the nodes it runs: their gRPC transport registers over one
 * shared plain-TLS channel per server (a few connections carry the whole storm, as a fleet's
 * registrations reach a load balancer), and their legacy transport shares one HTTP client.
 */
final class FleetLoop extends VerticleBase {
  private final Fleet fleet;
  private final HttpClient legacyHttp;
  private final Map<HostPort, ControllerChannel> registerChannels = new HashMap<>();
  Context ctx;
  GrpcTransport grpc;
  LegacyTransport legacy;

  FleetLoop(Fleet fleet, HttpClient legacyHttp) {
    this.fleet = fleet;
    this.legacyHttp = legacyHttp;
  }

  @Override
  public Future<?> start() {
    ctx = context;
    grpc = new GrpcTransport(vertx, server -> registerChannels.computeIfAbsent(server,
        s -> ControllerChannel.openMultiplexed(vertx, s, fleet.caPem)));
    legacy = new LegacyTransport(vertx, legacyHttp);
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    return Future.join(registerChannels.values().stream().map(ControllerChannel::close).toList()).otherwiseEmpty();
  }
}
