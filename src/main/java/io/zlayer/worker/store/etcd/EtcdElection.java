package io.zlayer.worker.store.etcd;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.grpc.client.GrpcClientRequest;
import io.zlayer.worker.store.etcd.v3electionpb.CampaignRequest;
import io.zlayer.worker.store.etcd.v3electionpb.ElectionGrpcClient;
import io.zlayer.worker.store.etcd.v3electionpb.LeaderKey;
import io.zlayer.worker.store.etcd.v3electionpb.LeaderRequest;
import io.zlayer.worker.store.etcd.v3electionpb.LeaderResponse;
import io.zlayer.worker.store.etcd.v3electionpb.ResignRequest;
import java.util.Optional;

/**
 * etcd's election API (v3election, served over gRPC by etcd 3.4): campaign under a lease, read
 * the leader, observe changes, resign. Election names live under the store's key prefix.
 */
public final class EtcdElection {
  private final EtcdClient etcd;
  private final String prefix;

  EtcdElection(EtcdClient etcd, String prefix) {
    this.etcd = etcd;
    this.prefix = prefix;
  }

  private ByteString name(String election) {
    return ByteString.copyFromUtf8(prefix + "election/" + election);
  }

  /**
   * Waits until this campaigner leads {@code election} (no deadline: it waits by design), then
   * returns the leadership's key. Leadership ends with the lease or with {@link #resign}.
   */
  public Future<LeaderKey> campaign(String election, long leaseId, String value) {
    return etcd.call(ElectionGrpcClient.Campaign, CampaignRequest.newBuilder().setName(name(election))
        .setLease(leaseId).setValue(ByteString.copyFromUtf8(value)).build(), false).map(r -> r.getLeader());
  }

  /** The current leader's value, empty when nobody leads. */
  public Future<Optional<String>> leader(String election) {
    return etcd.call(ElectionGrpcClient.Leader, LeaderRequest.newBuilder().setName(name(election)).build())
        .map(r -> Optional.of(r.getKv().getValue().toStringUtf8()))
        .recover(e -> e instanceof EtcdException ee && String.valueOf(ee.getMessage()).contains("no leader")
            ? Future.succeededFuture(Optional.empty()) : Future.failedFuture(e));
  }

  public Future<Void> resign(LeaderKey leader) {
    return etcd.call(ElectionGrpcClient.Resign, ResignRequest.newBuilder().setLeader(leader).build()).mapEmpty();
  }

  /**
   * Calls {@code handler} with each new leader's value, on the caller's context, until the
   * returned handle is cancelled or the stream fails (the future then fails: observe again).
   */
  public Observation observe(String election, Handler<String> handler) {
    Observation o = new Observation();
    o.ended = etcd.stream(ElectionGrpcClient.Observe).compose(req -> {
      o.stream = req;
      if (o.cancelled) {
        req.cancel();
      }
      return req.send(LeaderRequest.newBuilder().setName(name(election)).build()).compose(resp -> {
        resp.handler(r -> handler.handle(r.getKv().getValue().toStringUtf8()));
        return resp.end();
      });
    });
    return o;
  }

  /** A running observation of an election. */
  public static final class Observation {
    private volatile GrpcClientRequest<LeaderRequest, LeaderResponse> stream;
    private volatile boolean cancelled;
    private Future<Void> ended;

    /** Fails when the stream breaks or is cancelled. */
    public Future<Void> ended() {
      return ended;
    }

    public void cancel() {
      cancelled = true;
      var s = stream;
      if (s != null) {
        s.cancel();
      }
    }
  }
}
