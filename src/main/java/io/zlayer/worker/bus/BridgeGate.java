package io.zlayer.worker.bus;

import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.bridge.BridgeEventType;
import io.vertx.ext.eventbus.bridge.tcp.BridgeEvent;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gate of a loopback TCP event-bus bridge: every frame that sends, publishes or subscribes
 * must carry the bridge's secret in {@code headers.<header>}; the secret is stripped before the
 * message reaches the bus. Address permissions are the bridge's own (BridgeOptions).
 */
public final class BridgeGate implements Handler<BridgeEvent> {
  private static final Logger LOG = LoggerFactory.getLogger(BridgeGate.class);

  private final String name;
  private final String header;
  private final byte[] secret;

  public BridgeGate(String name, String header, String secret) {
    this.name = name;
    this.header = header;
    this.secret = secret.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void handle(BridgeEvent event) {
    BridgeEventType type = event.type();
    if (type != BridgeEventType.SEND && type != BridgeEventType.PUBLISH && type != BridgeEventType.REGISTER) {
      event.complete(true);
      return;
    }
    JsonObject raw = event.getRawMessage();
    JsonObject headers = raw == null ? null : raw.getJsonObject("headers");
    String presented = headers == null ? null : headers.getString(header);
    if (presented == null || !MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), secret)) {
      LOG.warn("{} bridge refused a {} to {}: missing or wrong {}", name, type,
          raw == null ? "?" : raw.getString("address"), header);
      event.complete(false);
      return;
    }
    headers.remove(header);
    event.setRawMessage(raw);
    event.complete(true);
  }
}
