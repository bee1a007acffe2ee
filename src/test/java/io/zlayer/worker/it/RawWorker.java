package io.zlayer.worker.it;

import static io.zlayer.worker.it.TestCluster.await;

import com.google.protobuf.ByteString;
import io.vertx.core.Vertx;
import io.zlayer.worker.agent.ControllerChannel;
import io.zlayer.worker.agent.Identity;
import io.zlayer.worker.controller.ControllerNode;
import io.zlayer.worker.pki.Pem;
import io.zlayer.worker.pki.WorkerKeys;
import io.zlayer.worker.proto.ClusterControlPlaneGrpcClient;
import io.zlayer.worker.proto.RegisterRequest;
import io.zlayer.worker.proto.RegisterResponse;
import io.zlayer.worker.proto.WorkerProfile;
import java.security.KeyPair;

/** A worker identity registered by hand (no agent), for driving the RPCs directly. */
final class RawWorker {
  private RawWorker() {
  }

  static Identity register(Vertx vertx, ControllerNode controller) throws Exception {
    KeyPair keys = WorkerKeys.generateP256();
    ControllerChannel channel = TestCluster.channel(vertx, controller, null);
    try {
      RegisterResponse response = await(channel.unary(ClusterControlPlaneGrpcClient.Register, RegisterRequest.newBuilder()
          .setBootstrapToken(TestCluster.mint(controller).encode())
          .setProfile(WorkerProfile.newBuilder().setOs("linux").setArch("x86_64"))
          .setCsrDer(ByteString.copyFrom(WorkerKeys.createCsr(keys, "raw")))
          .build()));
      return Identity.of(Pem.encode(Pem.CERTIFICATE, response.getSignedCertDer().toByteArray()),
          Pem.privateKeyToPem(keys.getPrivate()), Pem.encode(Pem.CERTIFICATE, response.getCaChainDer(0).toByteArray()));
    } finally {
      channel.close();
    }
  }
}
