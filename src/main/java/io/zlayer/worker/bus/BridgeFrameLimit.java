package io.zlayer.worker.bus;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps the size of a TCP event-bus bridge frame before it is read: the bridge's frame parser
 * (vertx-tcp-eventbus-bridge 5.0.7) buffers a whole frame of any announced length before its
 * gate sees the token, so one unauthenticated peer announcing 100 MB grew the controller by
 * 400 MB. Here each frame's 4-byte length is checked as soon as it arrives; a frame over the cap
 * (or with a negative length) gets an {@code err} frame and the connection is closed, so at most
 * the cap is ever buffered per connection.
 *
 * <p>The bridge has no hook for its sockets, so this takes over its server's connect handler (one
 * private field and one private method, resolved once; {@link #install} fails loudly when an
 * upgrade changes them) and hands the bridge a socket whose data first passes the cap.
 */
public final class BridgeFrameLimit {
  private static final Logger LOG = LoggerFactory.getLogger(BridgeFrameLimit.class);
  /** Operator frames are JSON requests (the largest, a pushed config); 1 MiB is far above any. */
  public static final int DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

  private BridgeFrameLimit() {
  }

  /** Puts the cap in front of {@code bridge}; call it before {@code listen}. */
  public static void install(TcpEventBusBridge bridge, int maxFrameBytes) {
    try {
      Class<?> impl = bridge.getClass();
      Field serverField = impl.getDeclaredField("server");
      serverField.setAccessible(true);
      Method handler = impl.getDeclaredMethod("handler", NetSocket.class);
      handler.setAccessible(true);
      NetServer server = (NetServer) serverField.get(bridge);
      server.connectHandler(socket -> {
        try {
          handler.invoke(bridge, capped(socket, maxFrameBytes));
        } catch (IllegalAccessException | InvocationTargetException e) {
          LOG.warn("bridge connection refused: {}", e.toString());
          socket.close();
        }
      });
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("cannot cap the event-bus bridge's frame size on this vertx-tcp-eventbus-bridge ("
          + e + "); refusing to start an uncapped bridge", e);
    }
  }

  /** {@code socket} as the bridge sees it: its data handler receives only frames within the cap. */
  static NetSocket capped(NetSocket socket, int maxFrameBytes) {
    return (NetSocket) Proxy.newProxyInstance(NetSocket.class.getClassLoader(), new Class<?>[] {NetSocket.class},
        (proxy, method, args) -> {
          if (method.getName().equals("handler") && args != null && args.length == 1) {
            @SuppressWarnings("unchecked")
            Handler<Buffer> parser = (Handler<Buffer>) args[0];
            socket.handler(parser == null ? null : new Cap(socket, parser, maxFrameBytes));
            return proxy;
          }
          try {
            Object result = method.invoke(socket, args);
            return result == socket ? proxy : result;
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /** Passes whole frames within the cap to the bridge's parser; refuses the first one over it. */
  private static final class Cap implements Handler<Buffer> {
    private final NetSocket socket;
    private final Handler<Buffer> parser;
    private final int max;
    private Buffer pending;
    private boolean closed;

    Cap(NetSocket socket, Handler<Buffer> parser, int max) {
      this.socket = socket;
      this.parser = parser;
      this.max = max;
    }

    @Override
    public void handle(Buffer chunk) {
      if (closed) {
        return;
      }
      pending = pending == null ? chunk.copy() : pending.appendBuffer(chunk);
      int offset = 0;
      while (pending.length() - offset >= 4) {
        int length = pending.getInt(offset);
        if (length < 0 || length > max) {
          refuse("frame_too_large: at most " + max + " bytes", "a frame of " + length + " bytes (at most " + max + ")");
          return;
        }
        if (pending.length() - offset - 4 < length) {
          break;
        }
        Buffer frame = pending.getBuffer(offset, offset + 4 + length);
        String problem = problem(frame);
        if (problem != null) {
          refuse("bad_frame: " + problem, "a frame: " + problem);
          return;
        }
        parser.handle(frame);
        offset += 4 + length;
      }
      pending = offset == pending.length() ? null : pending.getBuffer(offset, pending.length());
    }

    /** What is wrong with a frame's shape (the bridge would throw on it), or null. */
    private static String problem(Buffer frame) {
      Object parsed;
      try {
        parsed = io.vertx.core.json.Json.decodeValue(frame.slice(4, frame.length()));
      } catch (RuntimeException e) {
        return "not JSON";
      }
      if (!(parsed instanceof JsonObject msg)) {
        return "not a JSON object";
      }
      for (String field : new String[] {"type", "address", "replyAddress"}) {
        if (msg.getValue(field) != null && !(msg.getValue(field) instanceof String)) {
          return field + " must be a string";
        }
      }
      if (msg.getValue("body") != null && !(msg.getValue("body") instanceof JsonObject)) {
        return "body must be an object";
      }
      Object headers = msg.getValue("headers");
      if (headers != null && !(headers instanceof JsonObject h && h.stream().allMatch(e -> e.getValue() instanceof String))) {
        return "headers must be an object of strings";
      }
      return null;
    }

    /** One line, no stack trace; the peer gets an err frame and the connection is closed. */
    private void refuse(String reply, String what) {
      closed = true;
      pending = null;
      LOG.warn("bridge refused {} from {}; connection closed", what, socket.remoteAddress());
      Buffer err = new JsonObject().put("type", "err").put("message", reply).toBuffer();
      socket.write(Buffer.buffer().appendInt(err.length()).appendBuffer(err)).onComplete(v -> socket.close());
    }
  }
}
