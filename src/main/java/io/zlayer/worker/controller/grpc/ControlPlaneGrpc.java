package io.zlayer.worker.controller.grpc;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.GrpcServerRequest;
import io.zlayer.worker.bus.Events;
import io.zlayer.worker.controller.core.ControlPlaneException;
import io.zlayer.worker.controller.core.NodeEventLog;
import io.zlayer.worker.controller.core.NodeGate;
import io.zlayer.worker.controller.core.NodePrincipal;
import io.zlayer.worker.controller.core.NodeService;
import io.zlayer.worker.controller.core.Profiles;
import io.zlayer.worker.controller.core.Registrar;
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
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.function.Function;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The {@code ClusterControlPlane} service: decodes each RPC, calls the {@link NodeService},
 * encodes the answer and maps a refusal to a status. Calls are bound with {@code callHandler}
 * (not the generated service class) because every call but Register needs the connection's client
 * certificate, which the {@link NodeGate} turns into the caller's {@link NodePrincipal}.
 */
public final class ControlPlaneGrpc {
  private static final Runnable NO_CLEANUP = () -> { };
  private final NodeService nodes;
  private final NodeGate gate;
  private final OpenStreams streams;
  private final String clusterId;
  private final ByteString caDer;
  private final WatchFeed.Live assignmentsLive;
  private final WatchFeed.Pages assignmentPages;
  private final WatchFeed.Live commandsLive;
  private final WatchFeed.Pages commandPages;
  private final long stallLimitMs = Long.getLong("zlayer.slowConsumerStallMs", WatchFeed.DEFAULT_STALL_LIMIT_MS);

  public ControlPlaneGrpc(NodeService nodes, NodeGate gate, OpenStreams streams, String clusterId, byte[] caDer) {
    this.nodes = nodes;
    this.gate = gate;
    this.streams = streams;
    this.clusterId = clusterId;
    this.caDer = ByteString.copyFrom(caDer);
    this.assignmentsLive = nodes::watchAssignments;
    this.assignmentPages = nodes::assignmentsAfter;
    this.commandsLive = nodes::watchCommands;
    this.commandPages = nodes::commandsAfter;
  }

  public GrpcServer create(Vertx vertx) {
    GrpcServer server = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(GrpcInputGuard.largestMessage()));
    server.callHandler(ClusterControlPlaneGrpcService.Register, this::register);
    server.callHandler(ClusterControlPlaneGrpcService.WatchAssignments, this::watchAssignments);
    server.callHandler(ClusterControlPlaneGrpcService.ReportStatus, this::reportStatus);
    server.callHandler(ClusterControlPlaneGrpcService.WatchCommands, this::watchCommands);
    server.callHandler(ClusterControlPlaneGrpcService.Deregister, this::deregister);
    server.callHandler(ClusterControlPlaneGrpcService.RenewCertificate, this::renewCertificate);
    return server;
  }

  /** The caller, proven by its connection's client certificate, acting as the node the request names. */
  private NodePrincipal principal(GrpcServerRequest<?, ?> call, long claimedNodeId) {
    return gate.certificate(clientCertificate(call.connection())).actingAs(claimedNodeId);
  }

  private static X509Certificate clientCertificate(HttpConnection connection) {
    if (connection == null || !connection.isSsl()) {
      return null;
    }
    try {
      List<Certificate> chain = connection.peerCertificates();
      return chain != null && !chain.isEmpty() && chain.get(0) instanceof X509Certificate leaf ? leaf : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }

  private void register(GrpcServerRequest<RegisterRequest, RegisterResponse> call) {
    call.last()
        .compose(req -> nodes.register(new Registrar.Application(req.getBootstrapToken(),
            req.getDesiredNodeId(), Profiles.toJson(req.getProfile()), req.getCsrDer().toByteArray(), "grpc")))
        .map(admission -> RegisterResponse.newBuilder()
            .setNodeId(admission.node().nodeId())
            .setClusterId(clusterId)
            .setHeartbeatTtlSecs(admission.ttlSecs())
            .setHeartbeatGraceSecs(admission.graceSecs())
            .setSignedCertDer(ByteString.copyFrom(admission.certificate().der()))
            .addCaChainDer(caDer)
            .build())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }

  private void watchAssignments(GrpcServerRequest<WatchAssignmentsRequest, AssignmentEvent> call) {
    call.last().onSuccess(req -> {
      StreamFootprint.messageRead(call);
      openWatch(call, req.getNodeId(), req.getLastSeenRevision(),
          entry -> Events.assignmentToProto(entry.revision(), entry.body()), assignmentsLive, assignmentPages);
    });
  }

  private void watchCommands(GrpcServerRequest<WatchCommandsRequest, CommandEvent> call) {
    call.last().onSuccess(req -> {
      StreamFootprint.messageRead(call);
      openWatch(call, req.getNodeId(), req.getLastSeenCommandId(),
          entry -> Events.commandToProto(entry.revision(), entry.body()), commandsLive, commandPages);
    });
  }

  private <T> void openWatch(GrpcServerRequest<?, T> call, long nodeId, long afterRevision,
                             Function<NodeEventLog.Entry, T> encode, WatchFeed.Live live, WatchFeed.Pages pages) {
    NodePrincipal node;
    try {
      String leaving = streams.leaving();
      if (leaving != null) {
        throw new ControlPlaneException(ControlPlaneException.Kind.UNAVAILABLE, leaving + "; connect to another controller");
      }
      node = principal(call, nodeId);
    } catch (RuntimeException e) {
      GrpcReplies.fail(call.response(), e);
      return;
    }
    call.response().writeHead();
    HttpConnection connection = call.connection();
    WatchFeed<T> feed = new WatchFeed<>(call.response(), node, afterRevision, encode, live, pages, streams, connection,
        stallLimitMs);
    // The stream's resources go when the stream ends (cancelled or reset by the worker), not
    // when its connection does: a worker may open and cancel streams on one connection for ever.
    // One handler object for the three signals (it ignores its argument): every byte per stream counts.
    onEnd(call, x -> streams.ended(connection, feed), true);
    streams.track(nodeId, connection, feed);
    feed.start();
  }

  private void reportStatus(GrpcServerRequest<StatusReport, StatusAck> call) {
    NodePrincipal[] bound = {null};
    boolean[] failed = {false};
    call.handler(report -> {
      StreamFootprint.messageRead(call); // decoded: vertx-grpc need not keep its bytes until the next one
      if (failed[0]) {
        return; // the call was already answered with an error
      }
      int ttl;
      try {
        if (bound[0] == null) {
          // The stream is bound to the node its first report names, proven once for the call.
          bound[0] = principal(call, report.getNodeId());
          streams.track(bound[0].nodeId(), call.connection(), NO_CLEANUP);
        } else if (report.getNodeId() != bound[0].nodeId()) {
          throw ControlPlaneException.permissionDenied("this stream belongs to node " + bound[0].nodeId()
              + "; it may not report for node " + report.getNodeId());
        }
        ttl = nodes.heartbeat(bound[0], report);
      } catch (RuntimeException e) {
        failed[0] = true;
        release(call, bound);
        GrpcReplies.fail(call.response(), e);
        return;
      }
      call.response().write(StatusAck.newBuilder().setNextTtlSecs(ttl).build());
    });
    call.endHandler(v -> {
      release(call, bound);
      if (!failed[0]) { // a refused stream was already answered
        call.response().end();
      }
    });
    onEnd(call, x -> release(call, bound), false);
  }

  /** A status stream ended: its connection forgets it (it held no resource beyond the slot). */
  /**
   * One handler object for a stream's end signals (the call's error and exception, and with
   * {@code response} the response's exception): it ignores its argument, so one raw handler serves
   * them all; every byte per stream counts.
   */
  @SuppressWarnings({"rawtypes", "unchecked"})
  private static void onEnd(GrpcServerRequest<?, ?> call, Handler ended, boolean response) {
    call.errorHandler(ended);
    call.exceptionHandler(ended);
    if (response) {
      call.response().exceptionHandler(ended);
    }
  }

  private void release(GrpcServerRequest<?, ?> call, NodePrincipal[] bound) {
    if (bound[0] != null) {
      streams.ended(call.connection(), NO_CLEANUP);
      bound[0] = null; // once; a report after the end is not read
    }
  }

  private void deregister(GrpcServerRequest<DeregisterRequest, DeregisterResponse> call) {
    call.last()
        .compose(req -> nodes.deregister(principal(call, req.getNodeId()), req.getReason()))
        .map(node -> DeregisterResponse.getDefaultInstance())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }

  private void renewCertificate(GrpcServerRequest<RenewCertificateRequest, RenewCertificateResponse> call) {
    call.last()
        .compose(req -> nodes.renew(principal(call, req.getNodeId()), req.getCsrDer().toByteArray()))
        .map(cert -> RenewCertificateResponse.newBuilder()
            .setSignedCertDer(ByteString.copyFrom(cert.der()))
            .addCaChainDer(caDer)
            .build())
        .onComplete(ar -> GrpcReplies.reply(call.response(), ar));
  }
}
