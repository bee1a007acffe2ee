package io.zlayer.worker.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.store.etcd.EtcdServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller process started while etcd is unreachable says so in one line per attempt (no
 * stack trace), retries with backoff, and answers {@code /readyz} 503 with the reason on its
 * operator port until etcd answers; then it is ready.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ReadyWhenEtcdAnswersTest {
  @TempDir
  Path dir;
  Processes procs;
  EtcdServer etcd;

  @AfterEach
  void tearDown() throws Exception {
    if (procs != null) {
      procs.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static HttpResponse<String> awaitReadyz(HttpClient http, int port, Duration timeout,
                                                  Predicate<HttpResponse<String>> done) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "(no answer)";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        last = r.statusCode() + " " + r.body();
        if (done.test(r)) {
          return r;
        }
      } catch (java.io.IOException e) {
        last = e.toString();
      }
      Thread.sleep(100); // poll period of another process's listener
    }
    throw new AssertionError("/readyz did not answer as expected within " + timeout + "; last: " + last);
  }

  @Test
  void notReadyWithTheReasonUntilEtcdAnswers() throws Exception {
    procs = new Processes(dir);
    etcd = new EtcdServer(); // ports chosen, not started
    Processes.ControllerConfig config = procs.controllerConfig("controller", "2s", "2s", "30s",
        "store:", "  type: etcd", "  endpoints: [\"" + etcd.endpoint() + "\"]");
    Process controller = procs.controller(config);
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> waiting = awaitReadyz(http, config.operatorPort, Duration.ofSeconds(40), r -> true);
    assertEquals(503, waiting.statusCode(), waiting.body());
    String reason = new JsonObject(waiting.body()).getString("error");
    assertTrue(reason.startsWith("not ready: the cluster state store is unreachable"), reason);
    assertTrue(reason.contains(etcd.endpoint().substring("http://".length())), "names the endpoint: " + reason);

    long t0 = System.nanoTime();
    etcd.start();
    awaitReadyz(http, config.operatorPort, Duration.ofSeconds(40), r -> r.statusCode() == 200);
    System.out.printf("ready %d ms after etcd started%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    assertTrue(controller.isAlive());

    List<String> lines = Arrays.asList(procs.output("controller").split("\n"));
    long said = lines.stream().filter(l -> l.contains("the cluster state store is unreachable")).count();
    assertTrue(said >= 1, "it said so:\n" + String.join("\n", lines));
    assertFalse(lines.stream().anyMatch(l -> l.startsWith("\tat ") || l.contains("ERROR")),
        "no stack trace, no ERROR:\n" + String.join("\n", lines));
    assertTrue(lines.size() < 20 + said, "no log spam:\n" + String.join("\n", lines));
  }
}
