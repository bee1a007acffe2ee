package io.zlayer.worker.controller.operator;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.config.HostPort;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code operator_http_addr} while the controller waits for its store (etcd unreachable at
 * start): {@code /healthz} answers 200 (the process is alive), {@code /readyz} and everything else
 * 503 with why, so an orchestrator or an operator sees the reason instead of a refused connection.
 * Closed before the operator listener proper binds the same address. Plain HTTP, so only on a
 * loopback address (elsewhere the listener is TLS with a certificate the controller does not have
 * before it reached the store).
 */
public final class StartingProbe {
  private static final Logger LOG = LoggerFactory.getLogger(StartingProbe.class);
  private final Future<HttpServer> listening;
  private volatile String reason;

  private StartingProbe(Vertx vertx, HostPort addr, String reason) {
    this.reason = reason;
    this.listening = vertx.createHttpServer().requestHandler(req -> {
      boolean alive = "/healthz".equals(req.path());
      req.response().setStatusCode(alive ? 200 : 503).putHeader("content-type", "application/json")
          .end((alive ? new JsonObject().put("status", "ok").put("ready", false).put("reason", this.reason)
              : new JsonObject().put("error", "not ready: " + this.reason)).encode());
    }).listen(addr.port(), addr.host());
    listening.onFailure(e -> LOG.warn("cannot answer /readyz on {} while waiting for the store: {}", addr, e.getMessage()));
  }

  /** Starts answering on {@code addr} when it is loopback; null otherwise. */
  public static StartingProbe open(Vertx vertx, HostPort addr, String reason) {
    return addr.loopback() ? new StartingProbe(vertx, addr, reason) : null;
  }

  /** Why the controller is not ready yet. */
  public void reason(String reason) {
    this.reason = reason;
  }

  /** Stops answering and frees the address. */
  public Future<Void> close() {
    return listening.transform(ar -> ar.succeeded() ? ar.result().close() : Future.succeededFuture());
  }
}
