package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.WorkerProfile;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An independent client: grpc-java's own Netty transport (no Vert.x on the client side), with
 * the method descriptor written by hand from the wire contract, registers over TLS.
 */
@ExtendWith(VertxExtension.class)
class GrpcJavaClientTest {
  private static final MethodDescriptor<RegisterRequest, RegisterResponse> REGISTER =
      MethodDescriptor.<RegisterRequest, RegisterResponse>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("zlayer.cluster.v1.ClusterControlPlane/Register")
          .setRequestMarshaller(ProtoUtils.marshaller(RegisterRequest.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(RegisterResponse.getDefaultInstance()))
          .build();

  @TempDir
  Path dir;

  @Test
  void grpcJavaRegistersOverTlsAndGetsAValidCertificate(Vertx vertx) throws Exception {
    ControllerNode controller = TestCluster.startController(vertx, TestCluster.controllerOptions(dir, new JsonObject()));
    String caPem = controller.controlPlane().ca().certificatePem();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", controller.port())
        .sslContext(GrpcSslContexts.forClient()
            .trustManager(new ByteArrayInputStream(caPem.getBytes(StandardCharsets.US_ASCII))).build())
        .overrideAuthority("localhost")
        .build();
    try {
      RegisterRequest request = RegisterRequest.newBuilder()
          .setBootstrapToken(TestCluster.mint(controller).encode())
          .setProfile(WorkerProfile.newBuilder().setOs("linux").setArch("aarch64"))
          .setCsrDer(ByteString.copyFrom(WorkerKeys.createCsr(WorkerKeys.generateP256(), "grpc-java")))
          .build();
      RegisterResponse response = ClientCalls.blockingUnaryCall(channel, REGISTER,
          CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), request);
      assertTrue(response.getNodeId() > 0);
      assertEquals(controller.controlPlane().clusterId(), response.getClusterId());
      assertEquals(10, response.getHeartbeatTtlSecs());
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      X509Certificate cert = (X509Certificate) x509.generateCertificate(
          new ByteArrayInputStream(response.getSignedCertDer().toByteArray()));
      X509Certificate ca = (X509Certificate) x509.generateCertificate(
          new ByteArrayInputStream(response.getCaChainDer(0).toByteArray()));
      cert.verify(ca.getPublicKey());
      cert.checkValidity();
      assertEquals("CN=node-" + response.getNodeId(), cert.getSubjectX500Principal().getName());

      // The same token again: grpc-java sees UNAUTHENTICATED with the message.
      StatusRuntimeException again = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          () -> ClientCalls.blockingUnaryCall(channel, REGISTER, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS),
              request.toBuilder().setCsrDer(ByteString.copyFrom(WorkerKeys.createCsr(WorkerKeys.generateP256(), "x"))).build()));
      assertEquals(Status.Code.UNAUTHENTICATED, again.getStatus().getCode());
      assertTrue(again.getStatus().getDescription().contains("already been used"), again.getStatus().getDescription());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      await(controller.stop());
    }
  }
}
