package io.zlayer.worker.sim;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.Rpc;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.proto.AssignmentEvent;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.CommandEvent;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.StatusAck;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WatchAssignmentsRequest;
import io.zlayer.worker.proto.WatchCommandsRequest;
import io.zlayer.worker.proto.WorkerProfile;
import io.zlayer.worker.proto.WorkerResourceUsage;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One simulated gRPC worker: registers (token + its own CSR) over a shared plain-TLS channel,
 * then opens its own mTLS connection and the three streams as the agent's verticles do
 * (WatchAssignments, ReportStatus bidi, WatchCommands), reports an empty status at the interval
 * the acks dictate, and on any stream failure tears the session down and reconnects with the
 * agent's {@link Backoff}. Everything runs on the event loop of the {@link Context} it was given.
 */
final class SimWorker {
  /** Same formula as the agent's {@code StatusReportVerticle.intervalMillis} (package-private there). */
  static long intervalMillis(int ttlSecs) {
    long ttl = ttlSecs * 1000L;
    long margin = Math.max(1000, Math.min(5000, ttl / 4));
    return Math.max(ttl / 2, ttl - margin);
  }

  private static final long CONNECT_ATTEMPT_TIMEOUT_MS = 30_000;
  private static final WorkerResourceUsage NO_USAGE = WorkerResourceUsage.newBuilder().build();

  private final Simulator.Fleet fleet;
  final int index;
  private final Context context;
  private final Vertx vertx;
  private final String keyPem;
  private final byte[] csrDer;
  private final Backoff backoff = new Backoff();
  private volatile long nodeId; // read by the warm-up's thread
  private Identity identity;
  private byte[] certDer;
  private ControllerChannel channel;
  private int serverIndex;
  private long epoch;
  private boolean connected;
  private boolean holdsConnectPermit;
  private int ttlSecs = 10;
  private long tickTimer = -1;
  private long lastRevision;
  private long lastCommandId;
  private int ready; // bit 1: assignments head, 2: commands head, 4: first ack
  private GrpcClientRequest<StatusReport, StatusAck> statusCall;
  private GrpcClientRequest<WatchAssignmentsRequest, AssignmentEvent> assignCall;
  private GrpcClientRequest<WatchCommandsRequest, CommandEvent> commandCall;
  private boolean stopped;

  SimWorker(Simulator.Fleet fleet, int index, Context context, String keyPem, byte[] csrDer) {
    this.fleet = fleet;
    this.index = index;
    this.context = context;
    this.vertx = context.owner();
    this.keyPem = keyPem;
    this.csrDer = csrDer;
    this.serverIndex = index;
  }

  Context context() {
    return context;
  }

  Simulator.Fleet fleet() {
    return fleet;
  }

  long nodeId() {
    return nodeId;
  }

  boolean connected() {
    return connected;
  }

  /** Starts registration (called on the worker's context once a registration permit was taken). */
  void start(ControllerChannel registerChannel) {
    String laneToken = fleet.laneTokens.poll();
    String token = laneToken == null ? fleet.token : laneToken; // more in flight than lanes: share one
    RegisterRequest request = RegisterRequest.newBuilder()
        .setBootstrapToken(token)
        .setProfile(WorkerProfile.newBuilder().setOs("linux").setArch("x86_64").setCpuTotal(2)
            .setMemoryTotalBytes(1L << 30).putLabels("sim", "true"))
        .setCsrDer(ByteString.copyFrom(csrDer))
        .build();
    registerChannel.unary(ClusterControlPlaneGrpcClient.Register, request).onComplete(ar -> {
      if (laneToken != null) {
        fleet.laneTokens.add(laneToken);
      }
      fleet.registerPermits.release();
      if (ar.failed()) {
        fleet.registerErrors.increment();
        fleet.noteError("register", ar.cause());
        if (!stopped) {
          vertx.setTimer(backoff.next().toMillis(), t -> fleet.retryRegistration(this));
        }
        return;
      }
      var response = ar.result();
      // The certificate is parsed when the worker connects, not here: a real worker does that on
      // its own machine, and in the storm it would take CPU from the controller being measured.
      certDer = response.getSignedCertDer().toByteArray();
      nodeId = response.getNodeId();
      ttlSecs = Math.max(1, response.getHeartbeatTtlSecs());
      fleet.registered(this);
      if (!fleet.holdConnects) {
        connect();
      }
    });
  }

  /** Connects a worker that registered while connects were held (runs on the worker's context). */
  void connectAfterRegistration() {
    if (certDer != null && !stopped) {
      connect();
    }
  }

  private void connect() {
    if (stopped) {
      return;
    }
    if (identity == null) {
      try {
        identity = Identity.of(Pem.encode(Pem.CERTIFICATE, certDer), keyPem, fleet.caPem);
      } catch (RuntimeException e) {
        fleet.otherErrors.increment();
        fleet.noteError("register response", e);
        return;
      }
    }
    if (!fleet.connectPermits.tryAcquire()) {
      // Too many connection setups in flight: try again shortly (bounded by the connect window).
      vertx.setTimer(20 + ThreadLocalRandom.current().nextInt(30), t -> connect());
      return;
    }
    holdsConnectPermit = true;
    List<HostPort> servers = fleet.servers;
    HostPort server = servers.get(Math.floorMod(serverIndex++, servers.size()));
    channel = ControllerChannel.open(vertx, server, fleet.caPem, identity);
    long e = ++epoch;
    ready = 0;
    // A setup that neither succeeds nor fails must not hold its connect permit forever.
    vertx.setTimer(CONNECT_ATTEMPT_TIMEOUT_MS, t -> {
      if (e == epoch && !connected) {
        failed(e, "connect", new java.util.concurrent.TimeoutException("session not up after "
            + CONNECT_ATTEMPT_TIMEOUT_MS + " ms"));
      }
    });
    openAssignments(e);
    openCommands(e);
    openStatus(e);
  }

  private void releaseConnectPermit() {
    if (holdsConnectPermit) {
      holdsConnectPermit = false;
      fleet.connectPermits.release();
    }
  }

  private void readyBit(long e, int bit) {
    if (e != epoch) {
      return;
    }
    ready |= bit;
    if (ready == 7 && !connected) {
      connected = true;
      releaseConnectPermit();
      fleet.connected(this);
      long session = e;
      vertx.setTimer(10_000, t -> {
        if (session == epoch && connected) {
          backoff.reset(); // stable session, as the agent does
        }
      });
    }
  }

  private void openAssignments(long e) {
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.WatchAssignments)
        .compose(req -> {
          if (e == epoch) {
            assignCall = req;
          }
          return req.send(WatchAssignmentsRequest.newBuilder().setNodeId(nodeId).setLastSeenRevision(lastRevision).build());
        })
        .onSuccess(response -> {
          if (!ok(response, e, "WatchAssignments")) {
            return;
          }
          readyBit(e, 1);
          response.handler(event -> {
            if (e == epoch && event.getRevision() > lastRevision) {
              lastRevision = event.getRevision();
              fleet.assignmentReceived(this, event);
            }
          });
          watchEnd(response, e, "WatchAssignments");
        })
        .onFailure(err -> failed(e, "WatchAssignments", err));
  }

  private void openCommands(long e) {
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.WatchCommands)
        .compose(req -> {
          if (e == epoch) {
            commandCall = req;
          }
          return req.send(WatchCommandsRequest.newBuilder().setNodeId(nodeId).setLastSeenCommandId(lastCommandId).build());
        })
        .onSuccess(response -> {
          if (!ok(response, e, "WatchCommands")) {
            return;
          }
          readyBit(e, 2);
          response.handler(command -> {
            if (e == epoch && command.getId() > lastCommandId) {
              lastCommandId = command.getId();
              fleet.commandsReceived.increment();
            }
          });
          watchEnd(response, e, "WatchCommands");
        })
        .onFailure(err -> failed(e, "WatchCommands", err));
  }

  private void openStatus(long e) {
    channel.grpc().request(channel.address(), ClusterControlPlaneGrpcClient.ReportStatus)
        .onSuccess(req -> {
          if (e != epoch) {
            req.cancel();
            return;
          }
          statusCall = req;
          req.response().onSuccess(response -> {
            if (!ok(response, e, "ReportStatus")) {
              return;
            }
            response.handler(ack -> {
              if (e == epoch) {
                fleet.acks.increment();
                ttlSecs = Math.max(1, ack.getNextTtlSecs());
                readyBit(e, 4);
                if (fleet.forcedIntervalMs <= 0) {
                  schedule(e);
                }
              }
            });
            watchEnd(response, e, "ReportStatus");
          }).onFailure(err -> failed(e, "ReportStatus", err));
          report(e, true);
        })
        .onFailure(err -> failed(e, "ReportStatus", err));
  }

  private boolean ok(GrpcClientResponse<?, ?> response, long e, String stream) {
    if (response.status() != null && response.status() != GrpcStatus.OK) {
      failed(e, stream, new Rpc.RpcException(response.status(), response.statusMessage()));
      return false;
    }
    return true;
  }

  private void watchEnd(GrpcClientResponse<?, ?> response, long e, String stream) {
    response.exceptionHandler(err -> failed(e, stream, err));
    response.endHandler(v -> failed(e, stream, new IllegalStateException(response.status() == GrpcStatus.OK
        ? "controller ended the stream" : response.status() + ": " + response.statusMessage())));
  }

  /** Re-arms the report timer; called on the worker's context. */
  void schedule(long e) {
    if (e != epoch || stopped) {
      return;
    }
    vertx.cancelTimer(tickTimer);
    long forced = fleet.forcedIntervalMs;
    long delay;
    if (forced > 0) {
      delay = Math.max(1, (long) (forced * ThreadLocalRandom.current().nextDouble(0.9, 1.1)));
    } else {
      delay = Math.max(1, (long) (intervalMillis(ttlSecs) * ThreadLocalRandom.current().nextDouble(0.9, 1.0)));
    }
    tickTimer = vertx.setTimer(delay, t -> report(e, false));
  }

  /** Forces the report interval change to take effect now (called on the worker's context). */
  void rescheduleNow() {
    if (connected && statusCall != null) {
      schedule(epoch);
    }
  }

  private void report(long e, boolean full) {
    if (e != epoch || statusCall == null || stopped) {
      return;
    }
    long now = System.currentTimeMillis();
    StatusReport report = StatusReport.newBuilder()
        .setNodeId(nodeId)
        .setTs(Timestamp.newBuilder().setSeconds(now / 1000).setNanos((int) (now % 1000) * 1_000_000))
        .setFullSnapshot(full)
        .setState("ready")
        .setResources(NO_USAGE)
        .build();
    fleet.reportsSent.increment();
    statusCall.write(report).onFailure(err -> failed(e, "ReportStatus", err));
    schedule(e); // as the agent: tick even when no ack comes; a dead stream surfaces as a failure
  }

  private void failed(long e, String stream, Throwable cause) {
    if (e != epoch || stopped) {
      return;
    }
    epoch++; // everything of the old session is now stale
    boolean was = connected;
    connected = false;
    releaseConnectPermit();
    if (was) {
      fleet.dropped(this, stream, cause);
    } else {
      fleet.connectFailed(this, stream, cause);
    }
    teardown();
    Duration delay = backoff.next();
    vertx.setTimer(delay.toMillis(), t -> connect());
  }

  private void teardown() {
    vertx.cancelTimer(tickTimer);
    for (GrpcClientRequest<?, ?> call : new GrpcClientRequest<?, ?>[] {statusCall, assignCall, commandCall}) {
      if (call != null) {
        try {
          call.cancel();
        } catch (RuntimeException ignored) {
          // the stream is gone already
        }
      }
    }
    statusCall = null;
    assignCall = null;
    commandCall = null;
    if (channel != null) {
      channel.close();
      channel = null;
    }
  }

  /** Stops without deregistering (the node stays registered, like a worker that was killed). */
  Future<Void> stop() {
    stopped = true;
    epoch++;
    connected = false;
    releaseConnectPermit();
    vertx.cancelTimer(tickTimer);
    ControllerChannel c = channel;
    channel = null;
    return c == null ? Future.succeededFuture() : c.close();
  }
}
