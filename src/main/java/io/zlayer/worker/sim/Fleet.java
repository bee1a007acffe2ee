package io.zlayer.worker.sim;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.zlayer.worker.agent.session.JoinTicket;
import io.zlayer.worker.agent.session.Throttle;
import io.zlayer.worker.config.HostPort;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the simulated nodes share, touched from every event loop: the tokens and pinned CA, the
 * registration and connection windows, and the counters the phases read.
 */
final class Fleet {
  /** Retry pace of a node waiting for a window's permit. */
  private static final int PERMIT_RETRY_MIN_MS = 20;
  private static final int PERMIT_RETRY_SPREAD_MS = 30;

  volatile String token;
  /** One token per registration lane: a multi-use token is redeemed by compare-and-set on its record,
   * so concurrent registrations through one token conflict (see BENCHMARKS.md); a lane's are sequential.
   * Lanes are per controller: a controller commits against the token record it wrote last, so a lane
   * shared by two controllers would lose every other compare-and-set to the other one. */
  final Map<HostPort, Queue<String>> laneTokens = new ConcurrentHashMap<>();
  volatile String clusterId;
  volatile String caPem;
  List<HostPort> servers;
  int grpcTarget;
  int legacyTarget;
  final Semaphore registerPermits = new Semaphore(0);
  Semaphore connectPermits = new Semaphore(0);
  /** Sessions waiting for a connect permit, oldest first (guarded by itself). */
  private final java.util.ArrayDeque<Runnable> connectWaiters = new java.util.ArrayDeque<>();
  final LongAdder registerErrors = new LongAdder();
  final LongAdder connectFailures = new LongAdder();
  final LongAdder streamDrops = new LongAdder();
  final LongAdder otherErrors = new LongAdder();
  final LongAdder reconnectDrops = new LongAdder();
  final LongAdder reconnectConnectFailures = new LongAdder();
  final LongAdder acks = new LongAdder();
  final LongAdder reportsSent = new LongAdder();
  final LongAdder commandsReceived = new LongAdder();
  final AtomicInteger registered = new AtomicInteger();
  final AtomicInteger connected = new AtomicInteger();
  final AtomicInteger legacyConnected = new AtomicInteger();
  final AtomicInteger maxConnected = new AtomicInteger();
  final AtomicLong lastRegisteredNanos = new AtomicLong();
  final AtomicLong allConnectedNanos = new AtomicLong();
  volatile boolean expectingDrops;
  volatile boolean closing;
  final AtomicLong dropEpochMs = new AtomicLong();
  final AtomicLong allBackEpochMs = new AtomicLong();
  volatile long forcedIntervalMs;
  final Map<String, long[]> pending = new ConcurrentHashMap<>(); // service -> {sentNanos, legacy?1:0, cross?1:0}
  final LatencyRecorder grpcLatency = new LatencyRecorder();
  /** The gRPC assignments to nodes connected to another controller than the operator's (a subset of grpcLatency). */
  final LatencyRecorder crossLatency = new LatencyRecorder();
  final LatencyRecorder legacyLatency = new LatencyRecorder();
  /** Errors printed so far, per kind ("register", "connect", ...): the first few of each kind. */
  private final Map<String, AtomicInteger> errorsPrinted = new ConcurrentHashMap<>();
  private static final int ERRORS_PRINTED_PER_KIND = 10;
  final PrintStream log;
  /**
   * Every newly registered node, in order: the warm-up deregisters them from here, and the storm
   * clears it. Always there, so that the warm-up and the measured storm run the same branch here
   * (a null check that only the storm took made HotSpot throw away and recompile the compiled event
   * loop paths that had inlined it, on the storm's CPU).
   */
  final Queue<SimNode> registeredQueue = new ConcurrentLinkedQueue<>();

  Fleet(PrintStream log) {
    this.log = log;
  }

  /** A fleet for throwaway registrations sharing this one's tokens and CA. */
  Fleet sibling() {
    Fleet f = new Fleet(log);
    f.token = token;
    laneTokens.forEach((server, lanes) -> f.laneTokens.put(server, new ConcurrentLinkedQueue<>(lanes)));
    f.clusterId = clusterId;
    f.caPem = caPem;
    f.servers = servers;
    return f;
  }

  void noteError(String what, Throwable e) {
    if (errorsPrinted.computeIfAbsent(what.startsWith("node ") ? "refused" : what, k -> new AtomicInteger())
        .incrementAndGet() <= ERRORS_PRINTED_PER_KIND) {
      log.println("sim: " + what + " failed: " + Simulator.describe(e));
    }
  }

  /**
   * A registration ticket: a lane's token when one is free (else the shared one), and the
   * registration window's permit, both given back when the attempt ends. {@code held}: the caller
   * took the permit already.
   */
  Future<JoinTicket> ticket(Vertx vertx, HostPort server, boolean held) {
    Promise<Void> permit = Promise.promise();
    if (held) {
      permit.complete();
    } else {
      acquire(vertx, registerPermits, permit);
    }
    return permit.future().map(v -> {
      Queue<String> lanes = laneTokens.get(server);
      String lane = lanes == null ? null : lanes.poll();
      return new JoinTicket(lane == null ? token : lane, clusterId, caPem, () -> {
        if (lane != null) {
          lanes.add(lane);
        }
        registerPermits.release();
      });
    });
  }

  /**
   * The connection window as the sessions' throttle. A session waiting for a permit is queued and
   * handed the next one released (on its own context), in order: no polling. (Polling every
   * 20-50 ms made the simulator's timers its largest cost in a reconnect storm, when thousands of
   * sessions wait at once: a priority-queue insert and a timer map entry per waiter per poll.)
   */
  Throttle connectWindow(Vertx vertx) {
    return new Throttle() {
      @Override
      public Future<Void> acquire() {
        io.vertx.core.Context context = vertx.getOrCreateContext();
        Promise<Void> permit = Promise.promise();
        boolean now;
        synchronized (connectWaiters) {
          now = connectPermits.tryAcquire();
          if (!now) {
            connectWaiters.add(() -> context.runOnContext(v -> permit.complete()));
          }
        }
        if (now) {
          permit.complete();
        }
        return permit.future();
      }

      @Override
      public void release() {
        Runnable next;
        synchronized (connectWaiters) {
          next = connectWaiters.poll();
          if (next == null) {
            connectPermits.release();
          }
        }
        if (next != null) {
          next.run(); // the permit passes to the longest waiter
        }
      }
    };
  }

  /** Takes a permit without blocking the event loop: polls again shortly while none is free. */
  private static void acquire(Vertx vertx, Semaphore permits, Promise<Void> permit) {
    if (permits.tryAcquire()) {
      permit.complete();
    } else {
      vertx.setTimer(PERMIT_RETRY_MIN_MS + ThreadLocalRandom.current().nextInt(PERMIT_RETRY_SPREAD_MS),
          t -> acquire(vertx, permits, permit));
    }
  }

  void registered(SimNode node) {
    registered.incrementAndGet();
    lastRegisteredNanos.set(System.nanoTime());
    registeredQueue.add(node);
  }

  void connected(SimNode node) {
    int now = connected.incrementAndGet();
    if (node.legacy) {
      legacyConnected.incrementAndGet();
    }
    maxConnected.accumulateAndGet(now, Math::max);
    if (now >= grpcTarget + legacyTarget) {
      allConnectedNanos.compareAndSet(0, System.nanoTime());
      if (dropEpochMs.get() != 0) {
        allBackEpochMs.compareAndSet(0, System.currentTimeMillis());
      }
    }
  }

  void dropped(SimNode node, Throwable cause) {
    connected.decrementAndGet();
    if (node.legacy) {
      legacyConnected.decrementAndGet();
    }
    if (closing) {
      return;
    }
    if (expectingDrops) {
      reconnectDrops.increment();
      dropEpochMs.compareAndSet(0, System.currentTimeMillis());
    } else {
      streamDrops.increment();
      noteError((node.legacy ? "legacy " : "") + "session (dropped)", cause);
    }
  }

  void connectFailed(SimNode node, Throwable cause) {
    if (closing) {
      return;
    }
    if (expectingDrops) {
      reconnectConnectFailures.increment();
    } else {
      connectFailures.increment();
      noteError((node.legacy ? "legacy " : "") + "connect", cause);
    }
  }

  void received(String service) {
    long[] sent = pending.remove(service);
    if (sent != null) {
      long latency = System.nanoTime() - sent[0];
      (sent[1] == 1 ? legacyLatency : grpcLatency).record(latency);
      if (sent.length > 2 && sent[2] == 1) {
        crossLatency.record(latency);
      }
    }
  }

  long errors() {
    return registerErrors.sum() + connectFailures.sum() + streamDrops.sum() + otherErrors.sum();
  }
}
