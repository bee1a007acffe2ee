package io.zlayer.worker.it;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Headless Debian Chromium driven over the Chrome DevTools Protocol with Vert.x's WebSocket
 * client: open a page, evaluate JavaScript (awaiting promises), take a screenshot. Started with
 * the flags this closed network needs (no background networking, no first-run, no sync).
 */
public final class Chromium implements AutoCloseable {
  public static final Path BINARY = Path.of("/usr/bin/chromium");
  private static final Pattern DEVTOOLS = Pattern.compile("DevTools listening on (ws://\\S+)");
  private static final Duration START = Duration.ofSeconds(30);

  private final Vertx vertx;
  private final Process process;
  private final Path profile;
  private final int port;
  private final WebSocketClient client;
  private WebSocket page;
  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, Promise<JsonObject>> calls = new ConcurrentHashMap<>();

  private Chromium(Vertx vertx, Process process, Path profile, int port) {
    this.vertx = vertx;
    this.process = process;
    this.profile = profile;
    this.port = port;
    // screenshots arrive as one large base64 message
    this.client = vertx.createWebSocketClient(new io.vertx.core.http.WebSocketClientOptions()
        .setMaxFrameSize(64 * 1024 * 1024).setMaxMessageSize(64 * 1024 * 1024));
  }

  public static boolean installed() {
    return Files.isExecutable(BINARY);
  }

  /** Starts Chromium and waits for its DevTools endpoint. Blocking: call from the test thread. */
  public static Chromium start(Vertx vertx, Path dir) throws Exception {
    Path profile = Files.createTempDirectory(dir, "chromium-profile");
    Process p = new ProcessBuilder(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
        "--user-data-dir=" + profile, "about:blank"))
        .redirectErrorStream(true).start();
    long deadline = System.nanoTime() + START.toNanos();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && System.nanoTime() < deadline) {
      Matcher m = DEVTOOLS.matcher(line);
      if (m.find()) {
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "chromium-output");
        drain.setDaemon(true);
        drain.start();
        return new Chromium(vertx, p, profile, URI.create(m.group(1)).getPort());
      }
    }
    p.destroyForcibly();
    throw new IllegalStateException("chromium did not announce its DevTools endpoint within " + START);
  }

  /** Opens {@code url} in a new tab and attaches to it. */
  public Future<Void> open(String url) {
    return vertx.createHttpClient().request(HttpMethod.PUT, port, "127.0.0.1", "/json/new?" + url)
        .compose(req -> req.send().compose(res -> res.body())) // nested: vert.x#6038
        .compose(body -> {
          URI ws = URI.create(new JsonObject(body.toString()).getString("webSocketDebuggerUrl"));
          return client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(ws.getPort())
              .setURI(ws.getPath()));
        })
        .map(ws -> {
          ws.textMessageHandler(text -> {
            JsonObject msg = new JsonObject(text);
            Promise<JsonObject> call = msg.containsKey("id") ? calls.remove(msg.getLong("id")) : null;
            if (call != null) {
              if (msg.containsKey("error")) {
                call.fail(msg.getJsonObject("error").encode());
              } else {
                call.complete(msg.getJsonObject("result", new JsonObject()));
              }
            }
          });
          page = ws;
          return null;
        });
  }

  public Future<JsonObject> call(String method, JsonObject params) {
    long id = ids.incrementAndGet();
    Promise<JsonObject> result = Promise.promise();
    calls.put(id, result);
    page.writeTextMessage(new JsonObject().put("id", id).put("method", method).put("params", params).encode());
    return result.future();
  }

  /** Evaluates an expression in the page (awaiting a promise) and returns its JSON value. */
  public Future<Object> eval(String expression) {
    return call("Runtime.evaluate", new JsonObject().put("expression", expression)
        .put("awaitPromise", true).put("returnByValue", true)).compose(r -> {
          if (r.containsKey("exceptionDetails")) {
            return Future.failedFuture("page threw: " + r.getJsonObject("exceptionDetails").encode());
          }
          return Future.succeededFuture(r.getJsonObject("result").getValue("value"));
        });
  }

  /** Polls {@code condition} (a JS boolean expression) every 50 ms until true or the timeout. */
  public Future<Long> waitFor(String condition, Duration timeout) {
    long start = System.nanoTime();
    Promise<Long> done = Promise.promise();
    poll(condition, start, start + timeout.toNanos(), done);
    return done.future();
  }

  private void poll(String condition, long start, long deadline, Promise<Long> done) {
    eval("!!(" + condition + ")").onComplete(ar -> {
      if (ar.succeeded() && Boolean.TRUE.equals(ar.result())) {
        done.complete(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      } else if (System.nanoTime() > deadline) {
        done.fail("page condition not met in time: " + condition);
      } else {
        vertx.setTimer(50, t -> poll(condition, start, deadline, done));
      }
    });
  }

  public Future<Void> screenshot(Path file) {
    return call("Page.captureScreenshot", new JsonObject().put("format", "png")).compose(r -> {
      try {
        Files.createDirectories(file.getParent());
        Files.write(file, Base64.getDecoder().decode(r.getString("data")));
        return Future.succeededFuture();
      } catch (IOException e) {
        return Future.failedFuture(e);
      }
    });
  }

  @Override
  public void close() throws Exception {
    if (page != null) {
      page.close();
    }
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    try (var files = Files.walk(profile)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
