package io.zlayer.worker.controller.operator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.micrometer.backends.BackendRegistries;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The controller's Prometheus registry ({@code GET /metrics} on the operator listener): the
 * {@code zlayer_*} meters, JVM, process and Netty allocator meters, and, when the process's
 * Vert.x was built with Micrometer metrics ({@code cli/Daemon}), Vert.x's own HTTP and event-bus
 * meters in the same registry. Counters the hot paths already keep (heartbeats) are read at
 * scrape time, so a heartbeat costs nothing extra.
 */
public final class PrometheusMetrics {
  private static final Duration STATE_COUNT_CACHE = Duration.ofSeconds(1);

  private final PrometheusMeterRegistry registry;
  private final Map<String, Counter> registrations = new ConcurrentHashMap<>();
  private final Map<String, Counter> commands = new ConcurrentHashMap<>();
  private final Counter leaseExpiries;
  private final Timer storeCommits;

  private PrometheusMetrics(PrometheusMeterRegistry registry) {
    this.registry = registry;
    leaseExpiries = Counter.builder("zlayer.lease.expiries").description("leases that expired (node marked unreachable)")
        .register(registry);
    storeCommits = Timer.builder("zlayer.store.commit").description("time to commit one store write (one group commit)")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
        .maximumExpectedValue(Duration.ofSeconds(5)).register(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(registry);
  }

  /** The registry Vert.x's Micrometer metrics use when enabled, else a new one. */
  public static PrometheusMetrics create() {
    MeterRegistry shared = BackendRegistries.getDefaultNow();
    return new PrometheusMetrics(shared instanceof PrometheusMeterRegistry p ? p
        : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  /** The Prometheus text exposition of every meter. */
  public String scrape() {
    return registry.scrape();
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** {@code zlayer_nodes{state}}: counted at most once a second, whatever the number of states scraped. */
  public void nodesByState(Iterable<String> states, Supplier<Map<String, Integer>> count) {
    CachedCounts cache = new CachedCounts(count);
    for (String state : states) {
      Gauge.builder("zlayer.nodes", cache, c -> c.get().getOrDefault(state, 0)).tag("state", state)
          .description("nodes in each state").register(registry);
    }
  }

  public <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value) {
    Gauge.builder(name, source, value).description(description).register(registry);
  }

  public <T> void counter(String name, String description, T source, ToDoubleFunction<T> value) {
    FunctionCounter.builder(name, source, value).description(description).register(registry);
  }

  /** {@code zlayer_registrations_total{result}}: {@code ok}, or the refusal's reason. */
  public void registration(String result) {
    registrations.computeIfAbsent(result, r -> Counter.builder("zlayer.registrations").tag("result", r)
        .description("Register calls by result").register(registry)).increment();
  }

  /** {@code zlayer_commands_total{kind}}. */
  public void command(String kind) {
    commands.computeIfAbsent(kind, k -> Counter.builder("zlayer.commands").tag("kind", k)
        .description("commands written for workers, by kind").register(registry)).increment();
  }

  public void leaseExpired() {
    leaseExpiries.increment();
  }

  public void storeCommit(long nanos) {
    storeCommits.record(nanos, TimeUnit.NANOSECONDS);
  }

  private static final class CachedCounts {
    private final Supplier<Map<String, Integer>> source;
    private Map<String, Integer> last = Map.of();
    private long at;

    CachedCounts(Supplier<Map<String, Integer>> source) {
      this.source = source;
    }

    synchronized Map<String, Integer> get() {
      long now = System.nanoTime();
      if (at == 0 || now - at > STATE_COUNT_CACHE.toNanos()) {
        last = source.get();
        at = now;
      }
      return last;
    }
  }
}
