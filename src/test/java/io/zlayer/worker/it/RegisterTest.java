package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Rpc;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.pki.Pki;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.WorkerProfile;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Register over real gRPC/TLS on loopback: token and CSR checks, atomic single use, nothing stored on refusal. */
@ExtendWith(VertxExtension.class)
class RegisterTest {
  @TempDir
  Path dir;
  private ControllerNode controller;
  private ControllerChannel channel;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    channel = TestCluster.channel(vertx, controller, null);
  }

  @AfterEach
  void stop() throws Exception {
    await(channel.close());
    await(controller.stop());
  }

  static WorkerProfile profile() {
    return WorkerProfile.newBuilder().setOs("linux").setArch("x86_64").putLabels("zone", "test").build();
  }

  static byte[] goodCsr() {
    return WorkerKeys.createCsr(WorkerKeys.generateP256(), "worker");
  }

  private Future<RegisterResponse> register(String token, byte[] csr) {
    return channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
        .setBootstrapToken(token).setProfile(profile()).setCsrDer(ByteString.copyFrom(csr)).build());
  }

  private Rpc.RpcException refused(Future<RegisterResponse> call) {
    return assertThrows(Rpc.RpcException.class, () -> await(call));
  }

  private long revision() throws Exception {
    return await(controller.controlPlane().store().revision());
  }

  private int storedNodes() throws Exception {
    return await(controller.controlPlane().store().range("nodes/")).size();
  }

  @Test
  void oneTokenTwoConcurrentRegistersExactlyOneSucceeds() throws Exception {
    String token = TestCluster.mint(controller).encode();
    List<Future<RegisterResponse>> calls = List.of(register(token, goodCsr()), register(token, goodCsr()));
    await(Future.join(calls).otherwiseEmpty());
    long succeeded = calls.stream().filter(Future::succeeded).count();
    assertEquals(1, succeeded, "exactly one Register may redeem a single-use token");
    Throwable loser = calls.stream().filter(Future::failed).findFirst().orElseThrow().cause();
    Rpc.RpcException refusal = (Rpc.RpcException) loser;
    assertEquals(GrpcStatus.UNAUTHENTICATED, refusal.status());
    assertTrue(refusal.getMessage().contains("already been used"), refusal.getMessage());
    assertEquals(1, storedNodes());
  }

  @Test
  void aTokenForThreeUsesAdmitsExactlyThreeOfSixConcurrentRegisters() throws Exception {
    String token = await(controller.controlPlane().tokens().mint(Duration.ofMinutes(10), 3)).encode();
    List<Future<RegisterResponse>> calls = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      calls.add(register(token, goodCsr()));
    }
    await(Future.join(calls).otherwiseEmpty());
    assertEquals(3, calls.stream().filter(Future::succeeded).count(), "uses = 3");
    for (Future<RegisterResponse> refused : calls.stream().filter(Future::failed).toList()) {
      assertTrue(refused.cause().getMessage().contains("already been used"), refused.cause().getMessage());
    }
    assertEquals(3, storedNodes());
    // and afterwards, one at a time, the token stays used up
    assertTrue(refused(register(token, goodCsr())).getMessage().contains("already been used"));
  }

  @Test
  void expiredTokenIsRefusedAndNothingStored() throws Exception {
    var cp = controller.controlPlane();
    long past = System.currentTimeMillis() / 1000 - 60;
    BootstrapToken token = BootstrapToken.mint(cp.clusterId(), past, cp.ca().caSha256());
    await(cp.store().put("tokens/" + token.tokenId(), new JsonObject().put("secret_sha256", token.secretSha256())
        .put("expires_at", past).put("uses_left", 1).encode()));
    long before = revision();
    Rpc.RpcException e = refused(register(token.encode(), goodCsr()));
    assertEquals(GrpcStatus.UNAUTHENTICATED, e.status());
    assertTrue(e.getMessage().contains("expired"), e.getMessage());
    assertEquals(before, revision(), "a refused Register writes nothing");
    assertEquals(0, storedNodes());
  }

  @Test
  void tokenOfAnotherClusterIsRefused() throws Exception {
    BootstrapToken foreign = BootstrapToken.mint("cother", System.currentTimeMillis() / 1000 + 600,
        controller.controlPlane().ca().caSha256());
    long before = revision();
    Rpc.RpcException e = refused(register(foreign.encode(), goodCsr()));
    assertEquals(GrpcStatus.UNAUTHENTICATED, e.status());
    assertTrue(e.getMessage().contains("belongs to cluster cother"), e.getMessage());
    assertEquals(before, revision());
  }

  @Test
  void garbageTokenIsRefused() throws Exception {
    long before = revision();
    Rpc.RpcException e = refused(register("not-a-token!!", goodCsr()));
    assertEquals(GrpcStatus.UNAUTHENTICATED, e.status());
    assertTrue(e.getMessage().contains("malformed"), e.getMessage());
    assertEquals(before, revision());
  }

  @Test
  void usedTokenIsRefusedTheSecondTime() throws Exception {
    String token = TestCluster.mint(controller).encode();
    await(register(token, goodCsr()));
    Rpc.RpcException e = refused(register(token, goodCsr()));
    assertTrue(e.getMessage().contains("already been used"), e.getMessage());
    assertEquals(1, storedNodes());
  }

  @Test
  void csrWithBadSignatureIsInvalidArgumentAndTokenStaysUsable() throws Exception {
    String token = TestCluster.mint(controller).encode();
    KeyPair subject = WorkerKeys.generateP256();
    KeyPair signer = WorkerKeys.generateP256();
    byte[] forged = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=forged"), subject.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withECDSA").setProvider(Pki.PROVIDER).build(signer.getPrivate()))
        .getEncoded();
    long before = revision();
    Rpc.RpcException e = refused(register(token, forged));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
    assertTrue(e.getMessage().contains("signature"), e.getMessage());
    assertEquals(before, revision(), "the token was not consumed");
    assertEquals(1, await(register(token, goodCsr())).getNodeId() > 0 ? 1 : 0);
  }

  @Test
  void csrWithRsa1024KeyIsInvalidArgument() throws Exception {
    Pki.ensureProvider();
    String token = TestCluster.mint(controller).encode();
    KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
    rsa.initialize(1024);
    KeyPair keys = rsa.generateKeyPair();
    byte[] csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=rsa"), keys.getPublic())
        .build(new JcaContentSignerBuilder("SHA256withRSA").build(keys.getPrivate())).getEncoded();
    long before = revision();
    Rpc.RpcException e = refused(register(token, csr));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
    assertTrue(e.getMessage().contains("RSA 1024"), e.getMessage());
    assertEquals(before, revision());
  }

  @Test
  void garbageCsrIsInvalidArgument() throws Exception {
    String token = TestCluster.mint(controller).encode();
    long before = revision();
    Rpc.RpcException e = refused(register(token, new BigInteger("123456789abcdef", 16).toByteArray()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
    assertTrue(e.getMessage().contains("not a PKCS#10"), e.getMessage());
    assertEquals(before, revision());
    assertEquals(0, storedNodes());
  }

  @Test
  void missingProfileIsInvalidArgument() throws Exception {
    String token = TestCluster.mint(controller).encode();
    Rpc.RpcException e = refused(channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
        .setBootstrapToken(token).setCsrDer(ByteString.copyFrom(goodCsr())).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
    assertTrue(e.getMessage().contains("profile.os"), e.getMessage());
  }

  @Test
  void desiredNodeIdIsHonouredWhenFree() throws Exception {
    RegisterResponse first = await(channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
        .setBootstrapToken(TestCluster.mint(controller).encode()).setDesiredNodeId(42).setProfile(profile())
        .setCsrDer(ByteString.copyFrom(goodCsr())).build()));
    assertEquals(42, first.getNodeId());
    RegisterResponse second = await(channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
        .setBootstrapToken(TestCluster.mint(controller).encode()).setDesiredNodeId(42).setProfile(profile())
        .setCsrDer(ByteString.copyFrom(goodCsr())).build()));
    assertTrue(second.getNodeId() != 42, "a taken id is not handed out twice");
  }
}
