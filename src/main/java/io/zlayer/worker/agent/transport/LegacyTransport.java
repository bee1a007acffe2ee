package io.zlayer.worker.agent.transport;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.agent.LegacyIdentity;
import io.zlayer.worker.agent.session.ControllerLeaving;
import io.zlayer.worker.agent.session.Credentials;
import io.zlayer.worker.agent.session.JoinTicket;
import io.zlayer.worker.agent.session.KeyMaterial;
import io.zlayer.worker.agent.session.Refusal;
import io.zlayer.worker.agent.session.Transport;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.proto.ContainerStatus;
import io.zlayer.worker.proto.StatusReport;
import io.zlayer.worker.proto.WorkerProfile;
import java.util.HashMap;

/**
 * The legacy HTTP wire ({@code protocol: http}) for networks where gRPC cannot pass:
 * {@code POST /worker/register} with the token (no certificate; an internal token comes back),
 * one held {@code POST /worker/poll} at a time from the last revision, and
 * {@code POST /worker/status} whose {@code next_ttl_secs} is the ack. 401 and 404 to a known node
 * are a {@link Refusal}.
 */
public final class LegacyTransport implements Transport {
  public static final String TOKEN_HEADER = "X-ZLayer-Internal-Token";
  public static final long POLL_WAIT_SECS = 30;
  private static final long REQUEST_SLACK_MS = 15_000;
  private static final int CONNECT_TIMEOUT_MS = 5000;

  private final Vertx vertx;
  private final HttpClient shared;

  /** A client of its own per link, trusting the pinned CA (the agent). */
  public LegacyTransport(Vertx vertx) {
    this(vertx, null);
  }

  /** Every link over one shared client (the simulator: thousands of held polls). */
  public LegacyTransport(Vertx vertx, HttpClient shared) {
    this.vertx = vertx;
    this.shared = shared;
  }

  private HttpClient client(String caPem) {
    return shared != null ? shared : vertx.createHttpClient(new HttpClientOptions()
        .setSsl(true)
        .setVerifyHost(false) // trust is the pinned cluster CA; see ControllerChannel
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem)))
        .setConnectTimeout(CONNECT_TIMEOUT_MS));
  }

  private Future<Void> release(HttpClient client) {
    return client == shared ? Future.succeededFuture() : client.close();
  }

  @Override
  public Future<Credentials> register(HostPort server, JoinTicket ticket, KeyMaterial keys, WorkerProfile profile) {
    HttpClient client = client(ticket.caPem());
    JsonObject body = new JsonObject().put("token", ticket.token()).put("profile", new JsonObject()
        .put("api_addr", profile.getApiAddr()).put("os", profile.getOs()).put("arch", profile.getArch())
        .put("labels", new JsonObject(new HashMap<>(profile.getLabelsMap())))
        .put("cpu_total", profile.getCpuTotal()).put("memory_total_bytes", profile.getMemoryTotalBytes()));
    return post(client, server, "/worker/register", body, null, REQUEST_SLACK_MS, false)
        .eventually(() -> release(client))
        .compose(reply -> {
          if (!ticket.clusterId().equals(reply.getString("cluster_id"))) {
            return Future.failedFuture("controller answered for cluster " + reply.getString("cluster_id")
                + ", but the token is for " + ticket.clusterId());
          }
          return Future.succeededFuture(new LegacyIdentity(reply.getLong("node_id", 0L), reply.getString("cluster_id"),
              reply.getString("internal_token"), ticket.caPem()));
        });
  }

  @Override
  public Future<Link> open(HostPort server, Credentials credentials, long lastRevision, long lastCommandId,
                           Events events) {
    if (!(credentials instanceof LegacyIdentity identity)) {
      return Future.failedFuture(new IllegalArgumentException("the legacy transport needs an internal token"));
    }
    LegacyLink link = new LegacyLink(client(identity.caPem()), server, identity, lastRevision, events);
    link.poll();
    return Future.succeededFuture(link);
  }

  /** POSTs JSON; a non-200 answer fails with its status and error (a {@link Refusal} when {@code known} and 401/404). */
  private static Future<JsonObject> post(HttpClient client, HostPort target, String path, JsonObject body, String token,
                                         long timeoutMs, boolean known) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(target.host())
        .setPort(target.port()).setURI(path).setIdleTimeout(timeoutMs).putHeader("content-type", "application/json");
    if (token != null) {
      options.putHeader(TOKEN_HEADER, token);
    }
    // body() is attached in the task that delivers the response head (nested, not chained after
    // send): on Vert.x 5.0.7 a body() attached after the response ended never completes (vert.x#6038).
    return client.request(options)
        .compose(req -> req.send(body.toBuffer()).compose(resp -> resp.body().compose(buf -> {
          if (resp.statusCode() == 200) {
            return Future.succeededFuture(buf.length() == 0 ? new JsonObject() : buf.toJsonObject());
          }
          String error;
          String reason = null;
          try {
            JsonObject answer = buf.toJsonObject();
            error = answer.getString("error", "");
            reason = answer.getString("reason");
          } catch (RuntimeException e) {
            error = buf.toString();
          }
          String text = "HTTP " + resp.statusCode() + " from " + path + ": " + error;
          if (resp.statusCode() == 503 && io.zlayer.worker.bus.Leaving.LEGACY_REASON.equals(reason)) {
            return Future.failedFuture(new ControllerLeaving(text));
          }
          boolean refused = known && (resp.statusCode() == 401 || resp.statusCode() == 404);
          return Future.failedFuture(refused ? new Refusal(text) : new IllegalStateException(text));
        })));
  }

  /** The held poll and the status posts of one node on one controller. */
  private final class LegacyLink implements Link {
    private final HttpClient client;
    private final HostPort server;
    private final LegacyIdentity identity;
    private final Events events;
    private long lastRevision;
    private boolean closed;

    LegacyLink(HttpClient client, HostPort server, LegacyIdentity identity, long lastRevision, Events events) {
      this.client = client;
      this.server = server;
      this.identity = identity;
      this.lastRevision = lastRevision;
      this.events = events;
    }

    void poll() {
      if (closed) {
        return;
      }
      JsonObject body = new JsonObject().put("node_id", identity.nodeId()).put("last_revision", lastRevision)
          .put("max_wait_secs", POLL_WAIT_SECS);
      post(client, server, "/worker/poll", body, identity.internalToken(), POLL_WAIT_SECS * 1000 + REQUEST_SLACK_MS, true)
          .onSuccess(reply -> {
            if (closed) {
              return;
            }
            for (Object o : reply.getJsonArray("events", new JsonArray())) {
              JsonObject event = (JsonObject) o;
              long revision = event.getLong("revision", 0L);
              lastRevision = Math.max(lastRevision, revision);
              events.assignment(io.zlayer.worker.bus.Events.assignmentToProto(revision, event));
            }
            poll();
          })
          .onFailure(e -> fail(new IllegalStateException("poll: " + e.getMessage(), e), e));
    }

    private void fail(Exception described, Throwable cause) {
      if (closed) {
        return;
      }
      close();
      events.closed(cause instanceof Refusal || cause instanceof ControllerLeaving ? cause : described);
    }

    @Override
    public Future<Void> report(StatusReport report) {
      if (closed) {
        return Future.failedFuture(new IllegalStateException("status: the link is closed"));
      }
      return post(client, server, "/worker/status", statusJson(report), identity.internalToken(), REQUEST_SLACK_MS, true)
          .map(reply -> {
            if (!closed) {
              events.ack(reply.getInteger("next_ttl_secs", 0));
            }
            return (Void) null;
          })
          .recover(e -> Future.failedFuture(e instanceof Refusal || e instanceof ControllerLeaving ? e
              : new IllegalStateException("status: " + e.getMessage(), e)));
    }

    @Override
    public Future<Credentials> renew(Credentials current, KeyMaterial keys) {
      return Future.failedFuture("the legacy HTTP API has no certificate to renew");
    }

    @Override
    public Future<Void> deregister(long nodeId, String reason) {
      return Future.failedFuture("the legacy HTTP API has no deregistration");
    }

    @Override
    public Future<Void> close() {
      if (closed) {
        return Future.succeededFuture();
      }
      closed = true;
      return release(client).otherwiseEmpty();
    }
  }

  /** Seed 001's {@code WorkerStatusReport}. */
  static JsonObject statusJson(StatusReport report) {
    JsonArray containers = new JsonArray();
    for (ContainerStatus c : report.getContainersList()) {
      containers.add(new JsonObject().put("service", c.getService()).put("role", c.getRole())
          .put("replica", c.getReplica()).put("state", c.getState()).put("pid", c.getPid())
          .put("restarts", c.getRestarts()));
    }
    long tsNs = report.getTs().getSeconds() * 1_000_000_000L + report.getTs().getNanos();
    return new JsonObject().put("node_id", report.getNodeId()).put("ts_ns", tsNs).put("containers", containers)
        .put("resources", new JsonObject().put("cpu_used", report.getResources().getCpuUsed())
            .put("memory_used_bytes", report.getResources().getMemoryUsedBytes())
            .put("gpu_used", report.getResources().getGpuUsed()));
  }
}
