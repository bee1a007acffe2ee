package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.HostPort;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's session over the legacy HTTP API ({@code protocol: http}), for networks where
 * gRPC cannot pass: joins with {@code POST /worker/register} (after pinning the controller's CA,
 * as the gRPC session does), long-polls {@code /worker/poll} from the last applied revision and
 * publishes each new event for the executor, and reports {@code /worker/status} at the TTL the
 * controller hands out. Any failure: next server, after the same jittered backoff.
 */
public final class LegacySessionVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(LegacySessionVerticle.class);
  static final long POLL_WAIT_SECS = 30;
  private static final long REQUEST_SLACK_MS = 15_000;
  private static final long SNAPSHOT_TIMEOUT_MS = 2000;

  private final AgentContext ctx;
  private final Backoff backoff = new Backoff();
  private List<HostPort> servers;
  private int nextServer;
  private LegacyIdentity identity;
  private HttpClient http;
  private HostPort server;
  private long epoch;
  private boolean up;
  private boolean stopping;
  private long retryTimer = -1;
  private long statusTimer = -1;
  private int ttlSecs;
  private boolean reporting;
  private JsonObject lastSnapshot = new JsonObject();
  private long debounceTimer = -1;
  private static final long REPORT_NOW_DEBOUNCE_MS = 100;

  public LegacySessionVerticle(AgentContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public Future<?> start() {
    try {
      servers = JoinPreflight.servers(ctx.options());
    } catch (IllegalStateException e) {
      return Future.failedFuture(e);
    }
    Path identityDir = ctx.options().identityDir();
    vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SHUTDOWN, msg -> {
      // The legacy API has no deregistration: stop and, for a Shutdown command, exit.
      stopping = true;
      msg.reply(new JsonObject().put("deregistered", false));
      if (msg.body() != null && msg.body().getBoolean("exit", false)) {
        vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "exit").put("epoch", -1L));
      }
    });
    vertx.eventBus().consumer(Addresses.WORKER_REPORT_NOW, msg -> {
      if (up && !reporting && debounceTimer < 0) {
        long session = epoch;
        debounceTimer = vertx.setTimer(REPORT_NOW_DEBOUNCE_MS, t -> {
          debounceTimer = -1;
          if (!reporting && current(session)) {
            vertx.cancelTimer(statusTimer);
            report(session);
          }
        });
      }
    });
    return vertx.executeBlocking(() -> {
      var loaded = LegacyIdentity.load(identityDir);
      JoinPreflight.requireTokenUnless(loaded.isPresent(), ctx.options());
      return loaded.orElse(null);
    }).onSuccess(loaded -> {
      identity = loaded;
      attempt();
    });
  }

  private void attempt() {
    if (stopping) {
      return;
    }
    server = servers.get(Math.floorMod(nextServer++, servers.size()));
    HostPort target = server;
    Future<LegacyIdentity> ready = identity != null ? Future.succeededFuture(identity) : register(target);
    ready.onSuccess(id -> {
      identity = id;
      ctx.nodeId(id.nodeId());
      http = client(id.caPem());
      up = true;
      epoch++;
      ttlSecs = (int) ctx.ttlBounds().min().toSeconds();
      LOG.info("legacy session up: node {} with controller {}", id.nodeId(), target);
      vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "up").put("protocol", "http")
          .put("node_id", id.nodeId()).put("server", target.toString()).put("epoch", epoch));
      long session = epoch;
      vertx.setTimer(SessionVerticle.STABLE_AFTER.toMillis(), t -> {
        if (current(session)) {
          backoff.reset();
        }
      });
      poll(epoch);
      report(epoch);
    }).onFailure(e -> {
      vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "failed")
          .put("server", target.toString()).put("cause", SessionVerticle.describe(e)).put("epoch", -1L));
      retryLater(SessionVerticle.describe(e));
    });
  }

  private HttpClient client(String caPem) {
    return vertx.createHttpClient(new HttpClientOptions()
        .setSsl(true)
        .setVerifyHost(false) // trust is the pinned cluster CA; see ControllerChannel
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(caPem)))
        .setConnectTimeout(5000));
  }

  private Future<LegacyIdentity> register(HostPort target) {
    return vertx.executeBlocking(() -> JoinPreflight.readToken(ctx.options()))
        .compose(token -> CaPin.discover(vertx, target, token.caSha256()).compose(caPem -> {
          HttpClient once = client(caPem);
          var p = SystemProfile.profile(ctx.options().apiAddr(), ctx.labels());
          JsonObject body = new JsonObject().put("token", token.encode()).put("profile", new JsonObject()
              .put("api_addr", p.getApiAddr()).put("os", p.getOs()).put("arch", p.getArch())
              .put("labels", new JsonObject(new java.util.HashMap<>(p.getLabelsMap())))
              .put("cpu_total", p.getCpuTotal()).put("memory_total_bytes", p.getMemoryTotalBytes()));
          return post(once, target, "/worker/register", body, null, REQUEST_SLACK_MS).eventually(once::close)
              .compose(reply -> vertx.executeBlocking(() -> {
                if (!token.clusterId().equals(reply.getString("cluster_id"))) {
                  throw new IllegalStateException("controller answered for cluster " + reply.getString("cluster_id"));
                }
                LegacyIdentity id = new LegacyIdentity(reply.getLong("node_id"), reply.getString("cluster_id"),
                    reply.getString("internal_token"), caPem);
                id.save(ctx.options().identityDir());
                LOG.info("registered over the legacy API as node {} in cluster {}", id.nodeId(), id.clusterId());
                return id;
              })).compose(id -> ctx.state().reset().map(id));
        }));
  }

  private void poll(long session) {
    if (!current(session)) {
      return;
    }
    JsonObject body = new JsonObject().put("node_id", identity.nodeId())
        .put("last_revision", ctx.state().lastRevision()).put("max_wait_secs", POLL_WAIT_SECS);
    post(http, server, "/worker/poll", body, identity.internalToken(), POLL_WAIT_SECS * 1000 + REQUEST_SLACK_MS)
        .onSuccess(reply -> {
          if (!current(session)) {
            return;
          }
          Future<Void> applied = Future.succeededFuture();
          for (Object o : reply.getJsonArray("events", new JsonArray())) {
            JsonObject event = (JsonObject) o;
            long revision = event.getLong("revision", 0L);
            if (revision > ctx.state().lastRevision()) {
              vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, event);
              applied = ctx.state().revisionApplied(revision);
            }
          }
          applied.onComplete(v -> poll(session));
        })
        .onFailure(e -> down(session, "poll: " + SessionVerticle.describe(e)));
  }

  private void report(long session) {
    if (!current(session)) {
      return;
    }
    reporting = true;
    vertx.eventBus().<JsonObject>request(Addresses.WORKER_EXECUTOR_SNAPSHOT, new JsonObject(),
            new DeliveryOptions().setSendTimeout(SNAPSHOT_TIMEOUT_MS))
        .map(msg -> lastSnapshot = msg.body())
        .otherwise(e -> lastSnapshot)
        .compose(snapshot -> snapshot.containsKey("resources") ? Future.succeededFuture(snapshot.getJsonObject("resources"))
            : vertx.executeBlocking(SystemProfile::usageJson, false))
        .compose(resources -> {
          JsonObject body = new JsonObject().put("node_id", identity.nodeId())
              .put("ts_ns", System.currentTimeMillis() * 1_000_000L)
              .put("containers", lastSnapshot.getJsonArray("containers", new JsonArray()))
              .put("resources", resources);
          return post(http, server, "/worker/status", body, identity.internalToken(), REQUEST_SLACK_MS);
        })
        .onComplete(ar -> reporting = false)
        .onSuccess(reply -> {
          if (current(session)) {
            ttlSecs = ctx.ttlBounds().clamp(reply.getInteger("next_ttl_secs", ttlSecs));
            statusTimer = vertx.setTimer(StatusReportVerticle.intervalMillis(ttlSecs), t -> report(session));
          }
        })
        .onFailure(e -> down(session, "status: " + SessionVerticle.describe(e)));
  }

  private Future<JsonObject> post(HttpClient client, HostPort target, String path, JsonObject body, String token,
                                  long timeoutMs) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(target.host())
        .setPort(target.port()).setURI(path).setIdleTimeout(timeoutMs).putHeader("content-type", "application/json");
    if (token != null) {
      options.putHeader("X-ZLayer-Internal-Token", token);
    }
    return client.request(options)
        .compose(req -> req.send(body.toBuffer()))
        .compose(resp -> resp.body().compose(buf -> {
          if (resp.statusCode() == 200) {
            return Future.succeededFuture(buf.toJsonObject());
          }
          String error;
          try {
            error = buf.toJsonObject().getString("error", "");
          } catch (RuntimeException e) {
            error = buf.toString();
          }
          return Future.failedFuture("HTTP " + resp.statusCode() + " from " + path + ": " + error);
        }));
  }

  private boolean current(long session) {
    return up && session == epoch && !stopping;
  }

  private void down(long session, String cause) {
    if (!current(session)) {
      return;
    }
    up = false;
    vertx.cancelTimer(statusTimer);
    vertx.eventBus().publish(Addresses.WORKER_SESSION, new JsonObject().put("state", "down").put("protocol", "http")
        .put("node_id", identity.nodeId()).put("server", server.toString()).put("cause", cause).put("epoch", epoch));
    http.close();
    retryLater("session lost: " + cause);
  }

  private void retryLater(String cause) {
    if (stopping) {
      return;
    }
    Duration delay = backoff.next();
    LOG.warn("controller {}: {}; trying {} in {} ms", server, cause,
        servers.get(Math.floorMod(nextServer, servers.size())), delay.toMillis());
    retryTimer = vertx.setTimer(delay.toMillis(), t -> attempt());
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(retryTimer);
    vertx.cancelTimer(statusTimer);
    return http == null ? Future.succeededFuture() : http.close();
  }
}
