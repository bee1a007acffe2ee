package io.zlayer.worker.controller.http;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;

/**
 * The legacy API reads JSON only: a body sent as a form, multipart or text is refused with 415
 * before any body handler decodes it (a form body used to reach the form decoder and a 500).
 * A request without a content type is read as JSON, as seed 001's clients send it.
 */
final class LegacyContentType {
  private LegacyContentType() {
  }

  static void check(RoutingContext rc) {
    String type = rc.request().getHeader("content-type");
    if (rc.request().method() != HttpMethod.POST || type == null || isJson(type)) {
      rc.next();
      return;
    }
    String shown = type.length() > 64 ? type.substring(0, 64) + "..." : type;
    rc.response().setStatusCode(415).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", "content type " + shown.replaceAll("[^\\x20-\\x7e]", "?")
            + " is not accepted; send application/json").encode());
  }

  private static boolean isJson(String header) {
    int semicolon = header.indexOf(';');
    String type = (semicolon < 0 ? header : header.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    return type.equals("application/json") || type.isEmpty();
  }
}
