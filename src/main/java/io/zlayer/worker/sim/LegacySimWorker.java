package io.zlayer.worker.sim;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.agent.Backoff;
import io.zlayer.worker.config.HostPort;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One simulated legacy HTTP worker (no certificate): {@code POST /worker/register} with the
 * token, then a held {@code POST /worker/poll} at a time (re-issued as soon as it answers), and
 * {@code POST /worker/status} at the interval the controller's {@code next_ttl_secs} dictates.
 * Counted as connected once registered, its first status accepted and its first poll sent.
 */
final class LegacySimWorker {
  static final String TOKEN_HEADER = "X-ZLayer-Internal-Token";
  static final int MAX_WAIT_SECS = 30;

  private final Simulator.Fleet fleet;
  private final int index;
  private final Context context;
  private final Vertx vertx;
  private final Simulator sim;
  private final Backoff backoff = new Backoff();
  private long nodeId;
  private String internalToken;
  private long lastRevision;
  private int ttlSecs = 10;
  private long statusTimer = -1;
  private boolean connected;
  private boolean polling;
  private boolean stopped;

  LegacySimWorker(Simulator.Fleet fleet, int index, Context context, Simulator sim) {
    this.fleet = fleet;
    this.index = index;
    this.context = context;
    this.vertx = context.owner();
    this.sim = sim;
  }

  Context context() {
    return context;
  }

  long nodeId() {
    return nodeId;
  }

  private Future<JsonObject> post(String path, JsonObject body, long timeoutMs) {
    HostPort server = sim.legacyServer(index);
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(server.host())
        .setPort(server.port()).setURI(path).setIdleTimeout(timeoutMs)
        .putHeader("content-type", "application/json");
    if (internalToken != null) {
      options.putHeader(TOKEN_HEADER, internalToken);
    }
    return sim.legacyHttp().request(options)
        .compose(req -> req.send(Buffer.buffer(body.encode())).compose(resp -> resp.body().compose(b -> {
          if (resp.statusCode() != 200) {
            return Future.failedFuture("POST " + path + " answered " + resp.statusCode() + ": " + b.toString());
          }
          return Future.succeededFuture(b.length() == 0 ? new JsonObject() : b.toJsonObject());
        })));
  }

  void start() {
    JsonObject profile = new JsonObject().put("os", "linux").put("arch", "x86_64")
        .put("labels", new JsonObject().put("sim", "legacy")).put("cpu_total", 2).put("memory_total_bytes", 1L << 30);
    String polled = fleet.laneTokens.poll();
    String token = polled == null ? fleet.token : polled;
    post("/worker/register", new JsonObject().put("token", token).put("profile", profile), 30_000)
        .onComplete(ar -> {
          if (polled != null) {
            fleet.laneTokens.add(polled);
          }
          fleet.registerPermits.release();
          if (ar.failed()) {
            fleet.registerErrors.increment();
            fleet.noteError("legacy register", ar.cause());
            return; // no retry: a legacy-less controller answers 404 forever
          }
          JsonObject r = ar.result();
          nodeId = r.getLong("node_id", 0L);
          internalToken = r.getString("internal_token");
          ttlSecs = Math.max(1, r.getInteger("heartbeat_ttl_secs", 10));
          fleet.registered(this);
          status(true);
          poll();
        });
  }

  private void status(boolean first) {
    if (stopped) {
      return;
    }
    fleet.reportsSent.increment();
    JsonObject body = new JsonObject().put("node_id", nodeId).put("ts_ns", System.currentTimeMillis() * 1_000_000L)
        .put("containers", new JsonArray())
        .put("resources", new JsonObject().put("cpu_used", 0.0).put("memory_used_bytes", 0).put("gpu_used", 0));
    post("/worker/status", body, 30_000).onComplete(ar -> {
      if (ar.succeeded()) {
        fleet.acks.increment();
        ttlSecs = Math.max(1, ar.result().getInteger("next_ttl_secs", ttlSecs));
        up();
      } else if (!stopped) {
        failed("status", ar.cause());
      }
      schedule();
    });
  }

  private void up() {
    if (!connected && polling) {
      connected = true;
      fleet.legacyUp();
    }
  }

  void schedule() {
    if (stopped) {
      return;
    }
    vertx.cancelTimer(statusTimer);
    long forced = fleet.forcedIntervalMs;
    long delay = forced > 0 ? (long) (forced * ThreadLocalRandom.current().nextDouble(0.9, 1.1))
        : (long) (SimWorker.intervalMillis(ttlSecs) * ThreadLocalRandom.current().nextDouble(0.9, 1.0));
    statusTimer = vertx.setTimer(Math.max(1, delay), t -> status(false));
  }

  void rescheduleNow() {
    schedule();
  }

  private void poll() {
    if (stopped) {
      return;
    }
    polling = true;
    fleet.legacyPolling.incrementAndGet();
    post("/worker/poll", new JsonObject().put("node_id", nodeId).put("last_revision", lastRevision)
        .put("max_wait_secs", MAX_WAIT_SECS), (MAX_WAIT_SECS + 15) * 1000L).onComplete(ar -> {
          fleet.legacyPolling.decrementAndGet();
          if (stopped) {
            return;
          }
          if (ar.failed()) {
            failed("poll", ar.cause());
            vertx.setTimer(backoff.next().toMillis(), t -> poll());
            return;
          }
          JsonObject r = ar.result();
          for (Object o : r.getJsonArray("events", new JsonArray())) {
            JsonObject event = (JsonObject) o;
            if ("set".equals(event.getString("kind")) && event.getString("service") != null) {
              fleet.received(event.getString("service"));
            }
          }
          lastRevision = Math.max(lastRevision, r.getLong("revision", lastRevision));
          poll();
          if (!connected) {
            up();
          }
        });
    if (!connected && nodeId > 0) {
      up();
    }
  }

  private void failed(String what, Throwable cause) {
    if (connected) {
      connected = false;
      fleet.dropped(this, "legacy " + what, cause);
    } else {
      fleet.connectFailed(this, "legacy " + what, cause);
    }
  }

  void stop() {
    stopped = true;
    vertx.cancelTimer(statusTimer);
  }
}
