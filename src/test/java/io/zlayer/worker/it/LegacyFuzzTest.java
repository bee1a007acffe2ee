package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14 item 5: thousands of seeded mutations of the legacy API's bodies, over HTTP/1.1 and
 * HTTP/2, with wrong content types, hostile strings and out-of-range numbers. None gets a 5xx,
 * every 4xx carries a JSON error, and the store does not change.
 */
@ExtendWith(VertxExtension.class)
class LegacyFuzzTest {
  private static final List<String> HOSTILE_VALUES = List.of("18446744073709551618", "-9223372036854775809",
      "9223372036854775808", "1e309", "-1e309", "1.5", "0.0", "-0", "1e2", "\"%s%n\"", "\"%n%n%n%s%s\"", "\"\\u0000\"",
      "\"\\ud800\"", "{}", "[]", "null", "true", "[[[[[[[[[[1]]]]]]]]]]", "{\"a\":{\"b\":{}}}", "4294967297",
      "2147483648", "\"" + "x".repeat(5000) + "\"", "1" + "0".repeat(400), "0." + "0".repeat(400) + "1");
  private static final List<String> CONTENT_TYPES = List.of("application/json", "application/json", "application/json",
      "application/json; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
      "text/plain", "");

  @TempDir
  Path dir;
  private ControllerNode controller;
  private HttpClient h1;
  private HttpClient h2;
  private LoopLag lag;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    HttpClientOptions base = new HttpClientOptions().setSsl(true).setUseAlpn(true).setVerifyHost(false)
        .setTrustOptions(new PemTrustOptions().addCertValue(Buffer.buffer(controller.controlPlane().ca().certificatePem())));
    h1 = vertx.createHttpClient(new HttpClientOptions(base).setProtocolVersion(HttpVersion.HTTP_1_1),
        new io.vertx.core.http.PoolOptions().setHttp1MaxSize(16));
    h2 = vertx.createHttpClient(new HttpClientOptions(base).setProtocolVersion(HttpVersion.HTTP_2),
        new io.vertx.core.http.PoolOptions().setHttp2MaxSize(2));
    lag = LoopLag.start(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    lag.close();
    await(h1.close());
    await(h2.close());
    await(controller.stop());
  }

  record Reply(int status, String body) {
  }

  private Future<Reply> post(HttpClient client, String path, String type, String token, String body) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
        .setPort(controller.port()).setURI(path).setIdleTimeout(20_000);
    if (!type.isEmpty()) {
      options.putHeader("content-type", type);
    }
    if (token != null) {
      options.putHeader("X-ZLayer-Internal-Token", token);
    }
    return client.request(options).compose(req -> req.send(body)
        .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b.toString())))); // nested: vert.x#6038
  }

  @Test
  void mutatedBodiesGetA4xxWithAJsonErrorAndChangeNothing() throws Exception {
    LegacyClient legacy = new LegacyClient(controller.controlPlane().vertx(), controller);
    JsonObject node = await(legacy.register(TestCluster.mint(controller).encode()));
    await(legacy.close());
    long id = node.getLong("node_id");
    // Templates touch every field; the tokens are wrong, so a body that parses is still refused and nothing changes.
    List<String[]> templates = List.of(
        new String[] {"/worker/register", "{\"token\":\"abc\",\"desired_node_id\":7,\"profile\":{\"api_addr\":\"127.0.0.1:1\","
            + "\"os\":\"linux\",\"arch\":\"x86_64\",\"labels\":{\"zone\":\"a\"},\"cpu_total\":2,\"memory_total_bytes\":1024}}"},
        new String[] {"/worker/poll", "{\"node_id\":" + id + ",\"last_revision\":3,\"max_wait_secs\":0}"},
        new String[] {"/worker/status", "{\"node_id\":" + id + ",\"ts_ns\":5,\"containers\":[{\"service\":\"s\",\"role\":\"r\","
            + "\"replica\":1,\"state\":\"running\",\"overlay_ip\":\"10.0.0.1\",\"pid\":9}],"
            + "\"resources\":{\"cpu_used\":0.5,\"memory_used_bytes\":10,\"gpu_used\":0}}"});
    long revision = await(controller.controlPlane().store().revision());
    int nodes = controller.controlPlane().nodes().all().size();
    Random random = new Random(1405);
    int cases = Integer.getInteger("zlayer.abuse.legacyCases", 2_000);
    Map<Integer, Integer> byStatus = new TreeMap<>();
    List<String> failures = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int batch = 0; batch < cases; batch += 100) {
      List<Future<Reply>> replies = new ArrayList<>();
      List<String> sent = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        String[] template = templates.get(random.nextInt(templates.size()));
        String body = mutate(random, template[1]);
        String type = CONTENT_TYPES.get(random.nextInt(CONTENT_TYPES.size()));
        HttpClient client = random.nextBoolean() ? h1 : h2;
        sent.add(template[0] + " [" + type + "] " + (body.length() > 300 ? body.substring(0, 300) + "..." : body));
        replies.add(post(client, template[0], type, "wrong-token", body));
      }
      await(Future.join(replies));
      for (int i = 0; i < replies.size(); i++) {
        Future<Reply> f = replies.get(i);
        if (f.failed()) {
          failures.add("no answer (" + f.cause() + ") to " + sent.get(i));
          continue;
        }
        Reply r = f.result();
        byStatus.merge(r.status(), 1, Integer::sum);
        if (r.status() >= 500 || r.status() < 400 || !hasJsonError(r.body())) {
          failures.add(r.status() + " " + r.body() + " to " + sent.get(i));
        }
      }
    }
    System.out.printf("abuse legacy-fuzz: %d inputs tried in %d ms, answers by status %s, 5xx %d, not a JSON 4xx %d, %s%n",
        cases, (System.nanoTime() - t0) / 1_000_000, byStatus,
        byStatus.entrySet().stream().filter(e -> e.getKey() >= 500).mapToInt(Map.Entry::getValue).sum(), failures.size(),
        lag.figure());
    assertTrue(lag.withinBound(), lag.figure());
    assertTrue(failures.isEmpty(), failures.size() + " bad answers, e.g. " + failures.subList(0, Math.min(5, failures.size())));
    assertEquals(revision, await(controller.controlPlane().store().revision()), "the store changed");
    assertEquals(nodes, controller.controlPlane().nodes().all().size());
  }

  @Test
  void numbersOutOfRangeAreRefusedNotWrapped() throws Exception {
    LegacyClient legacy = new LegacyClient(controller.controlPlane().vertx(), controller);
    JsonObject node = await(legacy.register(TestCluster.mint(controller).encode()));
    String token = node.getString("internal_token");
    long id = node.getLong("node_id");
    Map<String, String> cases = Map.of(
        "{\"node_id\":" + (id + "").replaceAll(".*", "18446744073709551618") + "}", "node_id is out of range",
        "{\"node_id\":" + id + ",\"resources\":{\"cpu_used\":1e309}}", "resources.cpu_used must be a finite number",
        "{\"node_id\":" + id + ",\"containers\":[{\"service\":\"a\",\"replica\":4294967297,\"state\":\"x\"}]}",
        "containers[0].replica is out of range",
        "{\"node_id\":" + id + ",\"resources\":{\"gpu_used\":2147483648}}", "resources.gpu_used is out of range");
    for (var c : cases.entrySet()) {
      Reply r = await(post(h1, "/worker/status", "application/json", token, c.getKey()));
      assertEquals(400, r.status(), c.getKey() + " -> " + r.body());
      assertTrue(new JsonObject(r.body()).getString("error").contains(c.getValue()), c.getKey() + " -> " + r.body());
    }
    Reply form = await(post(h1, "/worker/register", "application/x-www-form-urlencoded", null, "a=" + "b".repeat(9_000)));
    assertEquals(415, form.status(), form.body());
    Reply format = await(post(h1, "/worker/register", "application/json", null, "{\"token\":\"%s%n\"}"));
    assertTrue(format.status() >= 400 && format.status() < 500, format.body());
    for (HttpClient client : new HttpClient[] {h1, h2}) {
      Reply unknown = await(post(client, "/nope", "application/json", null, "{}"));
      assertEquals(404, unknown.status(), unknown.body());
      assertTrue(hasJsonError(unknown.body()), unknown.body());
    }
    await(legacy.close());
  }

  private static boolean hasJsonError(String body) {
    try {
      return new JsonObject(body).getValue("error") instanceof String;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** One to three edits: a value replaced by a hostile one, bytes dropped, inserted or cut, padding. */
  private static String mutate(Random random, String body) {
    String s = body;
    for (int n = 1 + random.nextInt(3); n > 0; n--) {
      switch (random.nextInt(6)) {
        case 0, 1 -> {
          // replace the value after a random ':' with a hostile one
          List<Integer> colons = new ArrayList<>();
          for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == ':') {
              colons.add(i);
            }
          }
          if (!colons.isEmpty()) {
            int at = colons.get(random.nextInt(colons.size())) + 1;
            int end = at;
            while (end < s.length() && s.charAt(end) != ',' && s.charAt(end) != '}' && s.charAt(end) != ']') {
              end++;
            }
            s = s.substring(0, at) + HOSTILE_VALUES.get(random.nextInt(HOSTILE_VALUES.size())) + s.substring(end);
          }
        }
        case 2 -> s = s.isEmpty() ? s : s.substring(0, random.nextInt(s.length()));
        case 3 -> {
          int at = random.nextInt(s.length() + 1);
          String inserts = "{}[]\",:%\\\u0000\u00e9 0-e";
          s = s.substring(0, at) + inserts.charAt(random.nextInt(inserts.length())) + s.substring(at);
        }
        case 4 -> {
          int at = random.nextInt(Math.max(1, s.length()));
          s = s.substring(0, at) + s.substring(Math.min(s.length(), at + 1 + random.nextInt(5)));
        }
        default -> s = s.replaceFirst("\\{", "{\"pad\":\"" + "p".repeat(random.nextInt(2) == 0 ? 9_000 : 70_000) + "\",");
      }
    }
    return s;
  }
}
