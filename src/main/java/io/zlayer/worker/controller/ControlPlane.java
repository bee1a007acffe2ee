package io.zlayer.worker.controller;

import io.vertx.core.Vertx;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.Store;
import java.time.Clock;

/**
 * The controller's services, built once by {@link ControllerNode} and shared by its verticles.
 * Everything here is safe to call from any event loop.
 */
public record ControlPlane(
    Vertx vertx,
    ControllerOptions options,
    String clusterId,
    Store store,
    WorkerCa ca,
    ServerIdentity serverIdentity,
    String adminToken,
    TokenService tokens,
    NodeDirectory nodes,
    LeaseDirectory leases,
    Registrar registrar,
    MtlsGate gate,
    NodeLifecycle lifecycle,
    NodeEventLog assignments,
    NodeEventLog commands,
    PollHub<NodeEventLog.Entry> polls,
    Clock clock) {
}
