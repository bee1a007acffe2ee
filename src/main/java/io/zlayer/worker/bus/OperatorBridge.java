package io.zlayer.worker.bus;

import io.vertx.core.json.JsonObject;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * A blocking client of the controller's operator bridge (4-byte length + JSON frames, admin token
 * in the headers) over one persistent socket; requests are serialized. The operator CLI, the
 * simulator and the process tests use it; it never runs on an event loop.
 */
public final class OperatorBridge implements AutoCloseable {
  /** The controller (or the bridge) refused a request; the message says why. */
  public static final class RefusedException extends RuntimeException {
    public RefusedException(String message) {
      super(message, null, false, false);
    }
  }

  private static final int TIMEOUT_MS = 30_000;
  private static final int MAX_FRAME = 16 * 1024 * 1024;
  private final String host;
  private final int port;
  private final String adminToken;
  private final String tokenHeader;
  private Socket socket;
  private DataInputStream in;
  private DataOutputStream out;

  public OperatorBridge(String host, int port, String adminToken) {
    this(host, port, Addresses.ADMIN_TOKEN_HEADER, adminToken);
  }

  private OperatorBridge(String host, int port, String tokenHeader, String token) {
    this.host = host;
    this.port = port;
    this.tokenHeader = tokenHeader;
    this.adminToken = token;
  }

  /** A client of a worker's loopback bridge: the same frames, with the worker's {@code bridge.token}. */
  public static OperatorBridge worker(int port, String bridgeToken) {
    return new OperatorBridge("127.0.0.1", port, Addresses.BRIDGE_TOKEN_HEADER, bridgeToken);
  }

  public synchronized JsonObject request(String address, JsonObject body) throws IOException {
    try {
      return send(address, body);
    } catch (IOException e) {
      closeQuietly(); // one retry on a fresh socket (e.g. the controller restarted)
      return send(address, body);
    }
  }

  private JsonObject send(String address, JsonObject body) throws IOException {
    if (socket == null) {
      socket = new Socket();
      socket.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
      socket.setSoTimeout(TIMEOUT_MS);
      socket.setTcpNoDelay(true);
      in = new DataInputStream(socket.getInputStream());
      out = new DataOutputStream(socket.getOutputStream());
    }
    String replyAddress = "operator." + UUID.randomUUID();
    byte[] frame = new JsonObject().put("type", "send").put("address", address).put("replyAddress", replyAddress)
        .put("headers", new JsonObject().put(tokenHeader, adminToken)).put("body", body)
        .encode().getBytes(StandardCharsets.UTF_8);
    out.writeInt(frame.length);
    out.write(frame);
    out.flush();
    while (true) {
      int length = in.readInt();
      if (length < 0 || length > MAX_FRAME) {
        throw new IOException("bad frame length " + length);
      }
      byte[] bytes = new byte[length];
      in.readFully(bytes);
      JsonObject reply = new JsonObject(new String(bytes, StandardCharsets.UTF_8));
      if ("err".equals(reply.getString("type")) || reply.containsKey("failureCode")) {
        String message = reply.getString("message", reply.encode());
        throw new RefusedException(!"access_denied".equals(message) ? message
            : Addresses.BRIDGE_TOKEN_HEADER.equals(tokenHeader)
            ? "the worker refused the request: wrong bridge token (is this the worker's data_dir?)"
            : "the controller refused the request: wrong admin token (is this the controller's data_dir?)");
      }
      if ("message".equals(reply.getString("type")) && replyAddress.equals(reply.getString("address"))) {
        return reply.getValue("body") instanceof JsonObject json ? json : new JsonObject();
      }
    }
  }

  private void closeQuietly() {
    try {
      if (socket != null) {
        socket.close();
      }
    } catch (IOException e) {
      // closing anyway
    }
    socket = null;
  }

  @Override
  public synchronized void close() {
    closeQuietly();
  }
}
