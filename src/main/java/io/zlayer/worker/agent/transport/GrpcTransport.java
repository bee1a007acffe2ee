package io.zlayer.worker.agent.transport;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.Rpc;
import io.zlayer.worker.agent.session.Credentials;
import io.zlayer.worker.agent.session.JoinTicket;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.agent.session.Refusal;
import io.zlayer.worker.agent.session.Transport;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerCa;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.DeregisterRequest;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.RenewCertificateRequest;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import io.zlayer.worker.proto.WatchCommandsRequest;
import io.zlayer.worker.proto.WorkerProfile;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The gRPC wire: {@code Register} over a plain-TLS channel trusting the pinned CA, then per link
 * one mTLS connection carrying {@code WatchAssignments}, {@code ReportStatus} and
 * {@code WatchCommands}. A link is open once both watches were accepted and the status stream
 * exists. Statuses that refuse a known certificate become a {@link Refusal}.
 */
public final class GrpcTransport implements Transport {
  /** Refusals of a node the controller should know: they do not heal by retrying. */
  static final Set<GrpcStatus> REFUSALS = Set.of(GrpcStatus.UNAUTHENTICATED, GrpcStatus.PERMISSION_DENIED,
      GrpcStatus.NOT_FOUND);

  private final Vertx vertx;
  private final Function<HostPort, ControllerChannel> sharedRegisterChannel;
  /** The nodes' TLS sessions, kept across links so that a reconnect resumes. */
  private final io.zlayer.worker.agent.TlsSessions sessions = new io.zlayer.worker.agent.TlsSessions();

  /** Each registration on a channel of its own (the agent). */
  public GrpcTransport(Vertx vertx) {
    this(vertx, null);
  }

  /** Registrations over one shared channel per server (the simulator: a few connections for a whole fleet). */
  public GrpcTransport(Vertx vertx, Function<HostPort, ControllerChannel> sharedRegisterChannel) {
    this.vertx = vertx;
    this.sharedRegisterChannel = sharedRegisterChannel;
  }

  @Override
  public Future<Credentials> register(HostPort server, JoinTicket ticket, KeyMaterial keys, WorkerProfile profile) {
    ControllerChannel channel = sharedRegisterChannel != null ? sharedRegisterChannel.apply(server)
        : ControllerChannel.open(vertx, server, ticket.caPem(), null);
    RegisterRequest request = RegisterRequest.newBuilder()
        .setBootstrapToken(ticket.token())
        .setProfile(profile)
        .setCsrDer(ByteString.copyFrom(keys.csrDer()))
        .build();
    Future<RegisterResponse> answered = channel.unary(ClusterControlPlaneGrpcClient.Register, request);
    if (sharedRegisterChannel == null) {
      answered = answered.eventually(channel::close);
    }
    return answered.compose(response -> {
      try {
        return Future.succeededFuture(credentials(ticket, keys, response));
      } catch (IllegalStateException e) {
        return Future.failedFuture(e);
      }
    });
  }

  /**
   * The node's identity from the answer. The certificate is not parsed here: the simulator's storm
   * would take that CPU from the controller it measures; it is parsed when the link opens.
   */
  private static Identity credentials(JoinTicket ticket, KeyMaterial keys, RegisterResponse response) {
    if (response.getNodeId() == 0 || response.getCaChainDerCount() == 0) {
      throw new IllegalStateException("controller answered Register without a node id or CA");
    }
    if (!ticket.clusterId().equals(response.getClusterId())) {
      throw new IllegalStateException("controller answered for cluster " + response.getClusterId()
          + ", but the token is for " + ticket.clusterId());
    }
    String caPem = Pem.encode(Pem.CERTIFICATE, response.getCaChainDer(0).toByteArray());
    if (!caPem.equals(ticket.caPem()) && !WorkerCa.spkiSha256(Pem.parseCertificates(caPem).get(0))
        .equalsIgnoreCase(WorkerCa.spkiSha256(Pem.parseCertificates(ticket.caPem()).get(0)))) {
      throw new IllegalStateException("controller returned a CA that the token does not pin");
    }
    return new Identity(Pem.encode(Pem.CERTIFICATE, response.getSignedCertDer().toByteArray()), keys.keyPem(),
        caPem, response.getNodeId(), response.getClusterId());
  }

  @Override
  public Future<Link> open(HostPort server, Credentials credentials, long lastRevision, long lastCommandId,
                           Events events) {
    if (!(credentials instanceof Identity identity)) {
      return Future.failedFuture(new IllegalArgumentException("the gRPC transport needs a node certificate"));
    }
    ControllerChannel channel;
    try {
      channel = ControllerChannel.open(vertx, server, identity.caPem(), identity, sessions);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    GrpcLink link = new GrpcLink(channel, events);
    link.open(identity.nodeId(), lastRevision, lastCommandId);
    return link.opened.future();
  }

  /**
   * The status message of an ended call. Vert.x 5.0.7's {@code statusMessage()} reads
   * {@code grpc-message} from the response headers only (a trailers-only answer); a stream that
   * sent messages first carries it in its trailers, read here.
   */
  static String statusMessage(GrpcClientResponse<?, ?> response) {
    String message = response.statusMessage();
    if (message == null) {
      try {
        String raw = response.trailers() == null ? null : response.trailers().get("grpc-message");
        message = raw == null ? null
            : io.netty.handler.codec.http.QueryStringDecoder.decodeComponent(raw, java.nio.charset.StandardCharsets.UTF_8);
      } catch (RuntimeException e) {
        message = null; // no trailers (the stream was reset)
      }
    }
    return message;
  }

  /** A non-OK status as the session should see it: a {@link Refusal} when it does not heal. */
  static RuntimeException failure(String stream, GrpcStatus status, String message) {
    String text = stream + ": " + status.name() + (message == null || message.isEmpty() ? "" : ": " + message);
    if (status == GrpcStatus.UNAVAILABLE && io.zlayer.worker.bus.Leaving.said(message)) {
      return new io.zlayer.worker.agent.session.ControllerLeaving(text);
    }
    return REFUSALS.contains(status) ? new Refusal(text)
        : new Rpc.RpcException(status, stream + ": " + Rpc.withReason(status, message));
  }

  /** The three streams on one connection. */
  private static final class GrpcLink implements Link {
    private static final int ASSIGNMENTS = 1;
    private static final int COMMANDS = 2;
    private static final int STATUS = 4;
    private static final int ALL = ASSIGNMENTS | COMMANDS | STATUS;

    final Promise<Link> opened = Promise.promise();
    private final ControllerChannel channel;
    private final Events events;
    private GrpcClientRequest<StatusReport, StatusAck> status;
    private int ready;
    private boolean closed;

    GrpcLink(ControllerChannel channel, Events events) {
      this.channel = channel;
      this.events = events;
    }

    void open(long nodeId, long lastRevision, long lastCommandId) {
      watch(ClusterControlPlaneGrpcClient.WatchAssignments, WatchAssignmentsRequest.newBuilder().setNodeId(nodeId)
          .setLastSeenRevision(lastRevision).build(), "WatchAssignments", ASSIGNMENTS, events::assignment);
      watch(ClusterControlPlaneGrpcClient.WatchCommands, WatchCommandsRequest.newBuilder().setNodeId(nodeId)
          .setLastSeenCommandId(lastCommandId).build(), "WatchCommands", COMMANDS, events::command);
      channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.ReportStatus)
          .onSuccess(req -> {
            status = req;
            if (closed) {
              return; // the connection is closing: it ends this stream too
            }
            req.response().onSuccess(response -> {
              if (accepted(response, "ReportStatus", 0)) {
                response.handler(ack -> {
                  if (!closed) {
                    events.ack(ack.getNextTtlSecs());
                  }
                });
              }
            }).onFailure(this::fail);
            ready(STATUS);
          })
          .onFailure(this::fail);
    }

    /** Opens one server stream and hands its messages on while the link is open. */
    private <Q, R> void watch(ServiceMethod<R, Q> method, Q request, String stream, int bit, Consumer<R> deliver) {
      channel.grpc().request(channel.address(), method)
          .compose(req -> req.send(request))
          .onSuccess(response -> {
            if (accepted(response, stream, bit)) {
              response.handler(message -> {
                if (!closed) {
                  deliver.accept(message);
                }
              });
            }
          })
          .onFailure(this::fail);
    }

    /** Checks the call was accepted and wires its end to {@link #fail}. */
    private boolean accepted(GrpcClientResponse<?, ?> response, String stream, int bit) {
      if (response.status() != null && response.status() != GrpcStatus.OK) {
        fail(failure(stream, response.status(), statusMessage(response)));
        return false;
      }
      response.exceptionHandler(this::fail);
      response.endHandler(v -> fail(response.status() == null || response.status() == GrpcStatus.OK
          ? new IllegalStateException(stream + ": controller ended the stream")
          : failure(stream, response.status(), statusMessage(response))));
      ready(bit);
      return true;
    }

    private void ready(int bit) {
      ready |= bit;
      if (ready == ALL && !closed) {
        opened.tryComplete(this);
      }
    }

    private void fail(Throwable cause) {
      if (closed) {
        return;
      }
      if (cause instanceof io.zlayer.worker.agent.session.ControllerLeaving && status != null) {
        // The controller is draining: ending the status stream (not a reset) lets its connection
        // close at once instead of at the end of its grace.
        status.end().otherwiseEmpty();
      }
      release();
      if (!opened.tryFail(cause)) {
        events.closed(cause);
      }
    }

    /**
     * Closes the connection, which ends its three streams. No stream is cancelled first: a reset
     * written as the connection closes makes Netty log an ERROR for a clean stop.
     */
    private Future<Void> release() {
      closed = true;
      return channel.close();
    }

    @Override
    public Future<Void> report(StatusReport report) {
      if (closed || status == null) {
        return Future.failedFuture(new IllegalStateException("ReportStatus: the link is closed"));
      }
      return status.write(report);
    }

    @Override
    public Future<Credentials> renew(Credentials current, KeyMaterial keys) {
      return channel.unary(ClusterControlPlaneGrpcClient.RenewCertificate,
              RenewCertificateRequest.newBuilder().setNodeId(current.nodeId())
                  .setCsrDer(ByteString.copyFrom(keys.csrDer())).build())
          .map(response -> Identity.of(Pem.encode(Pem.CERTIFICATE, response.getSignedCertDer().toByteArray()),
              keys.keyPem(), current.caPem()));
    }

    @Override
    public Future<Void> deregister(long nodeId, String reason) {
      return channel.unary(ClusterControlPlaneGrpcClient.Deregister,
          DeregisterRequest.newBuilder().setNodeId(nodeId).setReason(reason).build()).mapEmpty();
    }

    @Override
    public Future<Void> close() {
      if (closed) {
        return Future.succeededFuture();
      }
      return release().otherwiseEmpty();
    }

    @Override
    public String toString() {
      return "GrpcLink[" + channel.server() + "]";
    }
  }
}
