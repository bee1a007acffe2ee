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
 * {@code zlayer_*} meters, JVM, process and Netty allocator meters, and Vert.x's own meters when the
 * process enabled them ({@code cli/Daemon}). Counters the hot paths already keep (heartbeats) are read at
 * scrape time, so a heartbeat costs nothing extra.
 */
public final class PrometheusMetrics {
  private static final Duration STATE_COUNT_CACHE = Duration.ofSeconds(1);

  private final PrometheusMeterRegistry registry;
  private final Map<String, Counter> registrations = new ConcurrentHashMap<>();
  private final Map<String, Counter> commands = new ConcurrentHashMap<>();
  private final Timer storeCommits;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  private PrometheusMetrics(PrometheusMeterRegistry registry) {
    this.registry = registry;
    storeCommits = Timer.builder("zlayer.store.commit").description("time to commit one store write (one group commit)")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
        .maximumExpectedValue(Duration.ofSeconds(5)).register(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(registry);
  }

  /** Filters a registry needs before any meter is registered. */
  private static PrometheusMeterRegistry configured(PrometheusMeterRegistry registry) {
    // process_cpu_usage says it; its nanosecond twin is a name promtool refuses (abbreviated unit).
    registry.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.denyNameStartsWith("process.cpu.time"));
    // Every family gets HELP text (promtool asks for it; a few library meters have none).
    registry.config().meterFilter(new io.micrometer.core.instrument.config.MeterFilter() {
      @Override
      public io.micrometer.core.instrument.Meter.Id map(io.micrometer.core.instrument.Meter.Id id) {
        if (id.getName().equals("system.cpu.count")) { // a gauge; promtool keeps "_count" for histograms
          id = id.withName("system.cpus");
        }
        if (id.getDescription() != null && !id.getDescription().isBlank()) {
          return id;
        }
        return new io.micrometer.core.instrument.Meter.Id(id.getName(), io.micrometer.core.instrument.Tags.of(id.getTags()),
            id.getBaseUnit(), id.getName().replace('.', ' '), id.getType());
      }
    });
    return registry;
  }

  /**
   * The registry Vert.x's own Micrometer metrics write to when the process enabled them
   * ({@link #vertxMetrics}), else a registry of this controller's own (tests, embedded use).
   */
  public static PrometheusMetrics create() {
    MeterRegistry shared = BackendRegistries.getDefaultNow();
    return new PrometheusMetrics(shared instanceof PrometheusMeterRegistry p ? p
        : configured(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));
  }

  /**
   * A Vert.x builder with Micrometer metrics into a Prometheus registry (HTTP server connections
   * and requests, event bus, worker pools), which {@link #create()} then shares.
   */
  public static io.vertx.core.VertxBuilder vertxMetrics(io.vertx.core.VertxOptions options) {
    PrometheusMeterRegistry registry = configured(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    return io.vertx.core.Vertx.builder()
        .with(options.setMetricsOptions(new io.vertx.micrometer.MicrometerMetricsOptions().setEnabled(true)
            .setJvmMetricsEnabled(false)))
        .withMetrics(new io.vertx.micrometer.MicrometerMetricsFactory(registry));
  }

  /** Releases the JVM listeners the meters hold (a controller stopped inside a longer-lived JVM). */
  public void close() {
    gc.close();
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
          .description("nodes in each state").strongReference(true).register(registry);
    }
  }

  public <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value) {
    Gauge.builder(name, source, value).description(description).strongReference(true).register(registry);
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
