package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.agent.WorkerAgent;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.config.WorkerOptions;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.controller.core.NodeState;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A real worker agent joins a real controller: TLS bootstrap with CA pinning, persisted identity, reuse. */
@ExtendWith(VertxExtension.class)
class WorkerJoinTest {
  @TempDir
  Path dir;

  /** Completes with the first session event of the given state. */
  static Future<JsonObject> sessionEvent(Vertx vertx, String state) {
    return Future.future(p -> {
      var consumer = vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_SESSION);
      consumer.handler(msg -> {
        if (state.equals(msg.body().getString("state"))) {
          consumer.unregister();
          p.tryComplete(msg.body());
        }
      });
    });
  }

  @Test
  void workerJoinsPersistsIdentityAndReusesItWithoutToken(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), controller.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(controller).encode());

    Future<JsonObject> up = sessionEvent(vertx, "up");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");
    assertTrue(nodeId > 0);

    // Identity files exist, mode 0600.
    for (String f : List.of(Identity.CERT, Identity.KEY, Identity.CA)) {
      Path file = options.identityDir().resolve(f);
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)), f);
    }
    // The certificate validates against the CA with the JDK's PKIX validator, has clientAuth and the node id.
    X509Certificate cert = Pem.parseCertificates(Files.readString(options.identityDir().resolve(Identity.CERT))).get(0);
    X509Certificate ca = Pem.parseCertificates(Files.readString(options.identityDir().resolve(Identity.CA))).get(0);
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
    params.setRevocationEnabled(false);
    CertPathValidator.getInstance("PKIX").validate(
        CertificateFactory.getInstance("X.509").generateCertPath(List.of(cert)), params);
    assertTrue(cert.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.2"), "clientAuth EKU");
    assertEquals("CN=node-" + nodeId, cert.getSubjectX500Principal().getName());
    assertTrue(cert.getSubjectAlternativeNames().stream().anyMatch(san ->
        san.get(1).toString().endsWith("/node/" + nodeId)), "URI SAN names the node");
    assertEquals(NodeState.READY, controller.controlPlane().nodes().get(nodeId).orElseThrow().state());

    // Restart without a token: the identity is reused, no second registration happens.
    await(agent.stop(false));
    Files.delete(options.tokenFile());
    long attemptsBefore = controller.controlPlane().registrar().attempts();
    Future<JsonObject> upAgain = sessionEvent(vertx, "up");
    WorkerAgent again = await(WorkerAgent.start(vertx, options));
    assertEquals(nodeId, await(upAgain).getLong("node_id"));
    assertEquals(attemptsBefore, controller.controlPlane().registrar().attempts(), "no Register on restart");
    assertEquals(1, controller.controlPlane().nodes().all().size());
    await(again.stop(false));
    await(controller.stop());
  }

  @Test
  void workerRefusesToSendTokenToAControllerWithAnotherCa(Vertx vertx) throws Exception {
    ControllerNode issuer = TestCluster.startController(vertx, TestCluster.controllerOptions(dir.resolve("a"), new JsonObject()));
    ControllerNode impostor = TestCluster.startController(vertx, TestCluster.controllerOptions(dir.resolve("b"), new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), impostor.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(issuer).encode());

    Future<JsonObject> failed = sessionEvent(vertx, "failed");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    String cause = await(failed).getString("cause");
    assertTrue(cause.contains("does not present the CA the bootstrap token pins"), cause);
    assertEquals(0, impostor.controlPlane().registrar().attempts(), "the token never reached the impostor");
    assertFalse(Files.exists(options.identityDir().resolve(Identity.CERT)));
    await(agent.stop(false));
    await(impostor.stop());
    await(issuer.stop());
  }

  @Test
  void workerWithoutTokenOrIdentityFailsClearly(Vertx vertx) throws Exception {
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), TestCluster.freePort());
    Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> await(WorkerAgent.start(vertx, options)));
    assertTrue(e.getMessage().contains("no bootstrap token and no identity"), e.getMessage());
  }

  @Test
  void workerRenewsItsCertificateAndReconnectsWithIt(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    WorkerOptions options = TestCluster.workerOptions(dir.resolve("worker"), new JsonObject(), controller.port());
    SecureFiles.writePrivate(options.tokenFile(), TestCluster.mint(controller).encode());
    Future<JsonObject> up = sessionEvent(vertx, "up");
    WorkerAgent agent = await(WorkerAgent.start(vertx, options));
    long nodeId = await(up).getLong("node_id");
    String before = Files.readString(options.identityDir().resolve(Identity.CERT));
    String oldSha = controller.controlPlane().nodes().get(nodeId).orElseThrow().certSha256();

    Future<JsonObject> upAgain = sessionEvent(vertx, "up");
    assertEquals(nodeId, await(agent.renewCertificate()));
    assertEquals(nodeId, await(upAgain).getLong("node_id"), "reconnected as the same node");
    String after = Files.readString(options.identityDir().resolve(Identity.CERT));
    assertFalse(before.equals(after), "a new certificate was saved");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
        options.identityDir().resolve(Identity.KEY))));
    var node = controller.controlPlane().nodes().get(nodeId).orElseThrow();
    assertEquals(io.zlayer.worker.pki.Fingerprints.certificateSha256(Pem.parseCertificates(after).get(0)), node.certSha256());
    assertEquals(oldSha, node.previousCertSha256(), "the old certificate stays valid until it expires");
    assertTrue(io.zlayer.worker.agent.SessionVerticleProbe.renewAtFraction(Pem.parseCertificates(after).get(0)) > 0.66);
    await(agent.stop(false));
    await(controller.stop());
  }
}
