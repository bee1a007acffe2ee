package io.zlayer.worker.controller;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The worker endpoint's HTTP answers outside the legacy routes are JSON too: an unknown path is
 * a 404 {@code {"error": ...}}, and an error that escapes a route is answered with its status and a
 * one-line JSON error, never Vert.x's HTML page or a stack trace.
 */
final class JsonErrors {
  private JsonErrors() {
  }

  /** Call after every route is mounted. */
  static void install(Router router) {
    router.route().last().handler(rc -> end(rc, 404, "no such endpoint: " + printable(rc.request().path())));
    for (int status : new int[] {400, 404, 405, 413, 415, 500}) {
      router.errorHandler(status, rc -> end(rc, status, status == 500 ? "internal error; see the controller log"
          : "request refused (" + status + ")"));
    }
  }

  private static void end(RoutingContext rc, int status, String message) {
    if (rc.response().ended() || rc.response().closed()) {
      return;
    }
    rc.response().setStatusCode(status).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", message).encode());
  }

  private static String printable(String text) {
    if (text == null) {
      return "(none)";
    }
    String cut = text.length() > 64 ? text.substring(0, 64) + "..." : text;
    return cut.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
