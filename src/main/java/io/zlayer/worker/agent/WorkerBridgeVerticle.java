package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServerOptions;
import io.vertx.ext.bridge.BridgeOptions;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.bus.BridgeGate;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's loopback TCP event-bus bridge for local tools: they may receive the session
 * state, assignments, commands and the executor's snapshot requests (and answer them, which is
 * how an external executor replaces the built-in one), and ask for a status report. Frames
 * must carry the secret in {@code <data_dir>/bridge.token} (mode 0600).
 */
public final class WorkerBridgeVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerBridgeVerticle.class);
  public static final String TOKEN_FILE = "bridge.token";
  private static final String LOOPBACK = "127.0.0.1";

  private final AgentContext ctx;
  private TcpEventBusBridge bridge;

  public WorkerBridgeVerticle(AgentContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public Future<?> start() {
    Path tokenFile = ctx.options().dataDir().resolve(TOKEN_FILE);
    return vertx.executeBlocking(() -> {
      if (Files.exists(tokenFile)) {
        return SecureFiles.readPrivate(tokenFile).trim();
      }
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      String token = HexFormat.of().formatHex(random);
      SecureFiles.writePrivate(tokenFile, token + "\n");
      return token;
    }).compose(token -> {
      BridgeOptions options = new BridgeOptions();
      Addresses.WORKER_BRIDGE_OUTBOUND.forEach(a -> options.addOutboundPermitted(new PermittedOptions().setAddress(a)));
      Addresses.WORKER_BRIDGE_INBOUND.forEach(a -> options.addInboundPermitted(new PermittedOptions().setAddress(a)));
      bridge = TcpEventBusBridge.create(vertx, options, new NetServerOptions(),
          new BridgeGate("worker", Addresses.BRIDGE_TOKEN_HEADER, token));
      io.zlayer.worker.bus.BridgeFrameLimit.install(bridge, io.zlayer.worker.bus.BridgeFrameLimit.DEFAULT_MAX_FRAME_BYTES);
      return bridge.listen(ctx.options().bridgePort(), LOOPBACK)
          .recover(io.zlayer.worker.config.AddressInUse.explain("bridge_port", LOOPBACK + ":" + ctx.options().bridgePort()));
    }).onSuccess(b -> LOG.info("worker bridge listening on {}:{} (token in {})", LOOPBACK,
        ctx.options().bridgePort(), tokenFile));
  }

  @Override
  public Future<?> stop() {
    return bridge == null ? Future.succeededFuture() : bridge.close();
  }
}
