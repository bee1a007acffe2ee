package io.zlayer.worker.controller;

import io.vertx.core.Vertx;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.controller.core.LeaseDirectory;
import io.zlayer.worker.controller.core.NodeDirectory;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodeGate;
import io.zlayer.worker.controller.core.NodeOrders;
import io.zlayer.worker.controller.core.NodeService;
import io.zlayer.worker.controller.core.Registrar;
import io.zlayer.worker.controller.core.TokenService;
import io.zlayer.worker.controller.grpc.OpenStreams;
import io.zlayer.worker.controller.http.PollHub;
import io.zlayer.worker.pki.ServerIdentity;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.store.Store;
import java.time.Clock;

/**
 * What a controller is made of, built once by {@link ControllerNode} (and reachable from tests).
 * Only the wiring sees all of it ({@link ControllerNode}, and {@link ControllerVerticle}, which
 * builds the worker port's two adapters); each adapter and the other verticles are given only the
 * services they use. Every node state change goes through {@link #nodeService()}; {@link #nodes()}
 * and {@link #leases()} are its read side.
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
    NodeService nodeService,
    NodeGate gate,
    NodeOrders orders,
    NodeEventLog assignments,
    NodeEventLog commands,
    PollHub<NodeEventLog.Entry> polls,
    OpenStreams streams,
    io.zlayer.worker.pki.TlsTickets tickets,
    Clock clock) {
}
