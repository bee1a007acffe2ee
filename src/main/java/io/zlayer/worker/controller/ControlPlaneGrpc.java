package io.zlayer.worker.controller;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.GrpcServerRequest;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.pki.CsrVerifier;
import io.zlayer.worker.pki.Fingerprints;
import io.zlayer.worker.pki.InvalidCsrException;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcService;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.DeregisterRequest;
import io.zlayer.worker.proto.DeregisterResponse;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.RenewCertificateRequest;
import io.zlayer.worker.proto.RenewCertificateResponse;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import io.zlayer.worker.proto.WatchCommandsRequest;
import io.zlayer.worker.store.Watch;
import com.google.protobuf.ByteString;
import java.security.cert.X509Certificate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code ClusterControlPlane} service: binds each RPC to the controller's services. Calls
 * are bound with {@code callHandler} (not the generated service class) because every call but
 * Register needs the connection's client certificate, checked by the {@link MtlsGate}.
 */
final class ControlPlaneGrpc {
  private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneGrpc.class);

  private final ControlPlane cp;
  private final NodeLifecycle lifecycle;
  private final OpenStreams streams;

  ControlPlaneGrpc(ControlPlane cp) {
    this.cp = cp;
    this.lifecycle = cp.lifecycle();
    this.streams = cp.lifecycle().streams();
  }

  GrpcServer create(Vertx vertx) {
    GrpcServer server = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(GrpcInputGuard.largestMessage()));
    server.callHandler(ClusterControlPlaneGrpcService.Register, this::register);
    server.callHandler(ClusterControlPlaneGrpcService.WatchAssignments, this::watchAssignments);
    server.callHandler(ClusterControlPlaneGrpcService.ReportStatus, this::reportStatus);
    server.callHandler(ClusterControlPlaneGrpcService.WatchCommands, this::watchCommands);
    server.callHandler(ClusterControlPlaneGrpcService.Deregister, this::deregister);
    server.callHandler(ClusterControlPlaneGrpcService.RenewCertificate, this::renewCertificate);
    return server;
  }

  private void register(GrpcServerRequest<RegisterRequest, RegisterResponse> call) {
    call.last()
        .compose(req -> cp.registrar().register(new Registrar.Application(req.getBootstrapToken(),
            req.getDesiredNodeId(), Profiles.toJson(req.getProfile()), req.getCsrDer().toByteArray(), "grpc")))
        .map(admission -> RegisterResponse.newBuilder()
            .setNodeId(admission.node().nodeId())
            .setClusterId(cp.clusterId())
            .setHeartbeatTtlSecs(admission.ttlSecs())
            .setHeartbeatGraceSecs(admission.graceSecs())
            .setSignedCertDer(ByteString.copyFrom(admission.certificate().der()))
            .addCaChainDer(ByteString.copyFrom(cp.ca().certificateDer()))
            .build())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }

  private void watchAssignments(GrpcServerRequest<WatchAssignmentsRequest, AssignmentEvent> call) {
    call.last().onSuccess(req -> openWatch(call, req.getNodeId(), () -> cp.assignments().watch(req.getNodeId(),
        req.getLastSeenRevision(), entry -> call.response().write(
            Events.assignmentToProto(entry.revision(), entry.body())))));
  }

  private void watchCommands(GrpcServerRequest<WatchCommandsRequest, CommandEvent> call) {
    call.last().onSuccess(req -> openWatch(call, req.getNodeId(), () -> cp.commands().watch(req.getNodeId(),
        req.getLastSeenCommandId(), entry -> call.response().write(
            Events.commandToProto(entry.revision(), entry.body())))));
  }

  private void openWatch(GrpcServerRequest<?, ?> call, long nodeId, java.util.function.Supplier<Watch> open) {
    try {
      cp.gate().authorize(call.connection(), nodeId);
    } catch (RuntimeException e) {
      GrpcReplies.fail(call.response(), e);
      return;
    }
    call.response().writeHead();
    Watch watch = open.get();
    call.exceptionHandler(e -> watch.cancel());
    call.response().exceptionHandler(e -> watch.cancel());
    streams.track(nodeId, call.connection(), watch::cancel);
    // A watch that cannot start must not leave the worker on a silent stream: end it, and the
    // worker's session reconnects.
    watch.started().onFailure(e -> GrpcReplies.fail(call.response(), new ControlPlaneException(
        ControlPlaneException.Kind.UNAVAILABLE, "cannot read the event log; reconnect")));
  }

  private void reportStatus(GrpcServerRequest<StatusReport, StatusAck> call) {
    long[] boundNode = {0};
    boolean[] failed = {false};
    call.handler(report -> {
      if (failed[0]) {
        return; // the call was already answered with an error
      }
      try {
        if (boundNode[0] == 0) {
          cp.gate().authorize(call.connection(), report.getNodeId());
          boundNode[0] = report.getNodeId();
          streams.track(boundNode[0], call.connection(), () -> { });
        } else if (report.getNodeId() != boundNode[0]) {
          throw ControlPlaneException.permissionDenied("this stream belongs to node " + boundNode[0]
              + "; it may not report for node " + report.getNodeId());
        }
      } catch (RuntimeException e) {
        failed[0] = true;
        GrpcReplies.fail(call.response(), e);
        return;
      }
      int ttl;
      try {
        ttl = lifecycle.heartbeat(boundNode[0], report);
      } catch (RuntimeException e) {
        failed[0] = true;
        GrpcReplies.fail(call.response(), e);
        return;
      }
      call.response().write(StatusAck.newBuilder().setNextTtlSecs(ttl).build());
    });
    call.endHandler(v -> {
      if (!failed[0]) { // a refused stream was already answered
        call.response().end();
      }
    });
  }

  private void deregister(GrpcServerRequest<DeregisterRequest, DeregisterResponse> call) {
    call.last()
        .compose(req -> {
          cp.gate().authorize(call.connection(), req.getNodeId());
          return lifecycle.deregister(req.getNodeId(), req.getReason());
        })
        .map(node -> DeregisterResponse.getDefaultInstance())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }

  private void renewCertificate(GrpcServerRequest<RenewCertificateRequest, RenewCertificateResponse> call) {
    call.last()
        .compose(req -> {
          cp.gate().authorize(call.connection(), req.getNodeId());
          byte[] csr = req.getCsrDer().toByteArray();
          Future<X509Certificate> signed = cp.vertx().executeBlocking(() -> {
            try {
              return cp.ca().signWorkerCertificate(CsrVerifier.verify(csr), req.getNodeId(),
                  cp.options().workerCertValidity());
            } catch (InvalidCsrException e) {
              throw ControlPlaneException.invalidArgument(e.getMessage());
            }
          }, false);
          return signed.compose(cert -> lifecycle.replaceCertificate(req.getNodeId(), cert.getSerialNumber().toString(16),
              Fingerprints.certificateSha256(cert), cert.getNotAfter().toInstant().getEpochSecond()).map(cert));
        })
        .map(cert -> RenewCertificateResponse.newBuilder()
            .setSignedCertDer(ByteString.copyFrom(Registrar.der(cert)))
            .addCaChainDer(ByteString.copyFrom(cp.ca().certificateDer()))
            .build())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }
}
