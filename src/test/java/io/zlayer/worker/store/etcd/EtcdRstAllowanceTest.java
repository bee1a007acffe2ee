package io.zlayer.worker.store.etcd;

import static io.zlayer.worker.store.StoreContractTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.zlayer.worker.store.Op;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The controller's connections to etcd do not count etcd's stream resets (see
 * {@link EtcdRstAllowance}): the reflection that takes Netty's counter out still finds its pieces,
 * and a burst of concurrent compare-and-set txns, of the shape a registration storm sends, all
 * succeed on one connection.
 */
@ExtendWith(VertxExtension.class)
class EtcdRstAllowanceTest {

  @Test
  void resetsFromEtcdDoNotCloseTheConnection(Vertx vertx) throws Exception {
    try (EtcdServer etcd = new EtcdServer().start()) {
      long before = EtcdRstAllowance.lifted();
      EtcdStore store = await(EtcdStore.open(vertx, EtcdStoreOptions.of(List.of(etcd.endpoint()))));
      try {
        assertTrue(EtcdRstAllowance.lifted() > before,
            "the reset counter was not taken out of the connection to etcd: a Vert.x or Netty upgrade moved it");
        int lanes = 256;
        int perLane = 12;
        List<Future<Integer>> all = new ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
          String key = "rst/" + lane;
          Future<Integer> chain = Future.succeededFuture(0);
          for (int i = 0; i < perLane; i++) {
            chain = chain.compose(done -> store.txn(List.of(), List.of(Op.put(key, "v" + done)))
                .map(r -> r.succeeded() ? done + 1 : done));
          }
          all.add(chain);
        }
        int ok = 0;
        for (Future<Integer> f : all) {
          ok += await(f);
        }
        assertEquals(lanes * perLane, ok, "every txn of the burst succeeded");
      } finally {
        await(store.close());
      }
    }
  }

  /**
   * Calls that time out and are answered late: each late answer lands on a stream this side already
   * cancelled, and Netty refuses it with RST_STREAM(STREAM_CLOSED), which its sent-reset guard counts
   * (200 in 30 s, then it closed the connection and every call in flight on it). 300 of them here, from a
   * raw HTTP/2 server that answers every request 300 ms late; the connection must survive them.
   */
  @Test
  void lateAnswersToCancelledCallsDoNotCloseTheConnection(Vertx vertx) throws Exception {
    java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger streamClosedResets = new java.util.concurrent.atomic.AtomicInteger();
    io.vertx.core.net.NetServer server = vertx.createNetServer().connectHandler(socket -> {
      connections.incrementAndGet();
      LateH2 h2 = new LateH2(vertx, socket, streamClosedResets);
      socket.handler(h2::read);
    });
    int port = await(server.listen(0, "127.0.0.1")).actualPort();
    EtcdStoreOptions options = new EtcdStoreOptions(List.of("http://127.0.0.1:" + port), EtcdStoreOptions.DEFAULT_PREFIX,
        null, null, null, java.time.Duration.ofMillis(100));
    EtcdStore store = new EtcdStore(vertx, new EtcdClient(vertx, options), options.prefix());
    try {
      int calls = 300;
      List<Future<?>> all = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        all.add(store.get("late/" + i).otherwiseEmpty());
      }
      for (Future<?> f : all) {
        await(f);
      }
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (streamClosedResets.get() < calls && System.nanoTime() < deadline) {
        await(io.zlayer.worker.it.TestCluster.delay(vertx, 50));
      }
      assertEquals(calls, streamClosedResets.get(), "each late answer was refused with RST_STREAM(STREAM_CLOSED)");
      await(store.get("after").otherwiseEmpty());
      assertEquals(1, connections.get(), "the connection to etcd survived " + calls + " resets it sent");
    } finally {
      await(store.close());
      await(server.close());
    }
  }

  /** Just enough HTTP/2 to answer each request's HEADERS 300 ms late with a bare 200, and count the client's resets. */
  private static final class LateH2 {
    private final Vertx vertx;
    private final io.vertx.core.net.NetSocket socket;
    private final java.util.concurrent.atomic.AtomicInteger streamClosedResets;
    private io.vertx.core.buffer.Buffer pending = io.vertx.core.buffer.Buffer.buffer();
    private boolean prefaceRead;

    LateH2(Vertx vertx, io.vertx.core.net.NetSocket socket, java.util.concurrent.atomic.AtomicInteger resets) {
      this.vertx = vertx;
      this.socket = socket;
      this.streamClosedResets = resets;
      socket.write(frame(4, 0, 0, io.vertx.core.buffer.Buffer.buffer())); // our SETTINGS
    }

    void read(io.vertx.core.buffer.Buffer data) {
      pending.appendBuffer(data);
      if (!prefaceRead) {
        if (pending.length() < 24) {
          return;
        }
        pending = pending.getBuffer(24, pending.length());
        prefaceRead = true;
      }
      while (pending.length() >= 9) {
        int length = pending.getUnsignedMedium(0);
        if (pending.length() < 9 + length) {
          return;
        }
        int type = pending.getUnsignedByte(3);
        int flags = pending.getUnsignedByte(4);
        int stream = pending.getInt(5) & 0x7fffffff;
        io.vertx.core.buffer.Buffer payload = pending.getBuffer(9, 9 + length);
        pending = pending.getBuffer(9 + length, pending.length());
        if (type == 4 && (flags & 1) == 0) {
          socket.write(frame(4, 1, 0, io.vertx.core.buffer.Buffer.buffer())); // SETTINGS ack
        } else if (type == 1) {
          // ":status: 200" (HPACK static index 8), END_STREAM | END_HEADERS
          vertx.setTimer(300, t -> socket.write(frame(1, 5, stream, io.vertx.core.buffer.Buffer.buffer().appendByte((byte) 0x88))));
        } else if (type == 3 && payload.getInt(0) == 5) {
          streamClosedResets.incrementAndGet();
        } else if (type == 6 && (flags & 1) == 0) {
          socket.write(frame(6, 1, 0, payload)); // PING ack
        }
      }
    }

    private static io.vertx.core.buffer.Buffer frame(int type, int flags, int stream, io.vertx.core.buffer.Buffer payload) {
      return io.vertx.core.buffer.Buffer.buffer().appendMedium(payload.length()).appendByte((byte) type)
          .appendByte((byte) flags).appendInt(stream).appendBuffer(payload);
    }
  }
}
