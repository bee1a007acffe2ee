package io.zlayer.worker.cli;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * A blocking client of the controller's TCP event-bus bridge for the CLI: frames are a 4-byte
 * big-endian length and a JSON object. Each request carries the admin token in its headers.
 */
final class BridgeClient implements AutoCloseable {
  private static final int TIMEOUT_MS = 15_000;
  private static final int MAX_FRAME = 16 * 1024 * 1024;

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final String adminToken;

  /** A refusal from the controller (or the bridge), with its message. */
  static final class RemoteException extends Exception {
    RemoteException(String message) {
      super(message, null, false, false);
    }
  }

  BridgeClient(String host, int port, String adminToken) throws IOException {
    this.socket = new Socket();
    socket.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
    socket.setSoTimeout(TIMEOUT_MS);
    this.in = new DataInputStream(socket.getInputStream());
    this.out = new DataOutputStream(socket.getOutputStream());
    this.adminToken = adminToken;
  }

  JsonObject request(String address, JsonObject body) throws IOException, RemoteException {
    String replyAddress = "cli." + UUID.randomUUID();
    write(new JsonObject().put("type", "send").put("address", address).put("replyAddress", replyAddress)
        .put("headers", new JsonObject().put(Addresses.ADMIN_TOKEN_HEADER, adminToken)).put("body", body));
    while (true) {
      JsonObject frame = read();
      String type = frame.getString("type", "");
      if ("err".equals(type) || frame.containsKey("failureCode")) {
        String message = frame.getString("message", "request refused");
        throw new RemoteException("access_denied".equals(message)
            ? "the controller refused the request: wrong admin token (is this the controller's data_dir?)" : message);
      }
      if ("message".equals(type) && replyAddress.equals(frame.getString("address"))) {
        Object reply = frame.getValue("body");
        return reply instanceof JsonObject json ? json : new JsonObject();
      }
    }
  }

  private void write(JsonObject frame) throws IOException {
    byte[] bytes = frame.encode().getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
    out.flush();
  }

  private JsonObject read() throws IOException {
    int length = in.readInt();
    if (length < 0 || length > MAX_FRAME) {
      throw new IOException("bad frame length " + length);
    }
    byte[] bytes = new byte[length];
    in.readFully(bytes);
    return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
