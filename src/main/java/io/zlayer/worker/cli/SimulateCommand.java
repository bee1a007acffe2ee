package io.zlayer.worker.cli;

import io.vertx.core.json.JsonObject;
import io.zlayer.worker.config.ControllerOptions;
import io.zlayer.worker.config.HostPort;
import io.zlayer.worker.bus.OperatorBridge;
import io.zlayer.worker.sim.SimulationReport;
import io.zlayer.worker.sim.Simulator;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code bin/worker simulate}: a fleet of simulated workers in one JVM, for load tests and benchmarks. */
@Command(name = "simulate", mixinStandardHelpOptions = true,
    description = "Run N simulated workers (real sessions: own key and CSR, mTLS, the three streams) against "
        + "a controller; progress on stderr, a summary at the end.")
final class SimulateCommand implements Callable<Integer> {
  @Option(names = "--servers", required = true, split = ",", paramLabel = "URL",
      description = "controllers, comma separated: https://host:port")
  List<String> servers;
  @Option(names = "--workers", required = true, description = "number of simulated workers")
  int workers;
  @Option(names = "--ramp", defaultValue = "0", paramLabel = "R/s",
      description = "registrations started per second (default: unlimited, bounded by --register-window)")
  String ramp;
  @Option(names = "--duration", defaultValue = "30s", description = "hold the fleet this long once all are connected (default: ${DEFAULT-VALUE})")
  String duration;
  @Option(names = "--legacy-fraction", defaultValue = "0", description = "share of workers speaking the legacy HTTP API (default: ${DEFAULT-VALUE})")
  double legacyFraction;
  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "controller config: its data_dir holds the admin token, bridge_port says where (default: "
          + "conf/controller.yaml when it exists here, else the controller last started by this user)")
  Path config;
  @Option(names = "--assignments", defaultValue = "0", paramLabel = "K",
      description = "after the hold, make K assignments to random nodes and time write->receipt")
  int assignments;
  @Option(names = "--report-interval", defaultValue = "0", description = "report status at this interval instead of the adaptive TTL")
  String reportInterval;
  @Option(names = "--ingest-interval", defaultValue = "0",
      description = "after the assignments, force this report interval for --ingest-duration and measure the controller's ingest")
  String ingestInterval;
  @Option(names = "--ingest-duration", defaultValue = "20s", description = "(default: ${DEFAULT-VALUE})")
  String ingestDuration;
  @Option(names = "--expect-reconnect", defaultValue = "0",
      description = "at the end, print SIM-READY-FOR-RESTART and wait up to this long for the fleet to drop and come back")
  String expectReconnect;
  @Option(names = "--connect-timeout", defaultValue = "0", description = "give up waiting for all to connect after this (default: max(120s, N/40 s))")
  String connectTimeout;
  @Option(names = "--warmup", defaultValue = "0", paramLabel = "K",
      description = "before the clock, up to K throwaway workers register at 300/s until neither JVM compiles, "
          + "then half of them (at most 8,000) at full speed, all --procs at once; the operator deregisters "
          + "and collects them (default: ${DEFAULT-VALUE})")
  int warmup;
  @Option(names = "--crypto-baseline", description = "also measure the box's raw registration crypto (child JVM, "
      + "2 threads, 5 s) just before the storm and once the fleet has connected (JSON: crypto_before_storm_rate, "
      + "crypto_after_connect_rate)")
  boolean cryptoBaseline;
  @Option(names = "--register-window", defaultValue = "256", description = "registrations in flight (default: ${DEFAULT-VALUE})")
  int registerWindow;
  @Option(names = "--connect-window", defaultValue = "64", description = "mTLS connection setups in flight (default: ${DEFAULT-VALUE})")
  int connectWindow;
  @Option(names = "--event-loops", defaultValue = "0", description = "event loops shared by the fleet (default: 2 x cores)")
  int eventLoops;
  @Option(names = "--progress-interval", defaultValue = "5s", description = "(default: ${DEFAULT-VALUE})")
  String progressInterval;
  @Option(names = "--procs", defaultValue = "1", paramLabel = "K",
      description = "this process is one of K simulator processes driving one fleet (each with its own --workers); "
          + "they meet in --sync-dir before each phase (default: ${DEFAULT-VALUE})")
  int procs;
  @Option(names = "--proc-index", defaultValue = "0", paramLabel = "I", description = "this process's index, 0..K-1")
  int procIndex;
  @Option(names = "--sync-dir", paramLabel = "DIR", description = "where the --procs processes meet (a fresh directory)")
  Path syncDir;
  @Option(names = "--json", description = "print the summary as JSON on stdout")
  boolean json;
  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    List<HostPort> hosts = new ArrayList<>();
    for (String url : servers) {
      String u = url.trim();
      if (!u.startsWith("https://")) {
        throw new Cli.UsageException("--servers: " + u + " is not https://host:port");
      }
      hosts.add(HostPort.parse("--servers", u.substring("https://".length()).replaceAll("/+$", "")));
    }
    if (workers < 1) {
      throw new Cli.UsageException("--workers must be at least 1");
    }
    if (legacyFraction < 0 || legacyFraction > 1) {
      throw new Cli.UsageException("--legacy-fraction must be between 0 and 1");
    }
    String r = ramp.endsWith("/s") ? ramp.substring(0, ramp.length() - 2) : ramp;
    double rampPerSec;
    try {
      rampPerSec = Double.parseDouble(r);
    } catch (NumberFormatException e) {
      throw new Cli.UsageException("--ramp: not a number of registrations per second: " + ramp);
    }
    if (procs < 1 || procIndex < 0 || procIndex >= procs) {
      throw new Cli.UsageException("--proc-index must be in 0.." + (procs - 1));
    }
    if (procs > 1 && syncDir == null) {
      throw new Cli.UsageException("--procs " + procs + " needs --sync-dir");
    }
    ControllerOptions options = OperatorCommands.resolve(config);
    Duration timeout = dur("--connect-timeout", connectTimeout);
    Simulator.Settings d = Simulator.Settings.defaults(hosts, workers);
    Simulator.Shape shape = new Simulator.Shape(hosts, workers, legacyFraction, rampPerSec, warmup, registerWindow,
        connectWindow, eventLoops > 0 ? eventLoops : 2 * Runtime.getRuntime().availableProcessors(),
        timeout.isZero() ? d.shape().connectTimeout() : timeout);
    Simulator.Phases phases = new Simulator.Phases(dur("--duration", duration), assignments,
        dur("--report-interval", reportInterval), dur("--ingest-interval", ingestInterval),
        dur("--ingest-duration", ingestDuration), dur("--expect-reconnect", expectReconnect));
    Simulator.Settings settings = new Simulator.Settings(shape, phases, dur("--progress-interval", progressInterval),
        System.err);
    SimulationReport report;
    try (OperatorBridge bridge = OperatorCommands.openBridge(options)) {
      String adminToken = java.nio.file.Files.readString(
          options.dataDir().resolve(io.zlayer.worker.controller.ControllerNode.ADMIN_TOKEN_FILE)).trim();
      io.zlayer.worker.config.HostPort op = options.operatorHttpAddr();
      Simulator simulator = new Simulator(settings, bridge::request).withMetrics(
          op.host().equals("0.0.0.0") ? new io.zlayer.worker.config.HostPort("127.0.0.1", op.port()) : op, adminToken);
      simulator.withOperatorServer(options.workerGrpcAddr());
      if (procs > 1) {
        simulator.withProcesses(syncDir, procs, procIndex);
      }
      report = (cryptoBaseline ? simulator.withCryptoBaseline() : simulator).run();
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(report.toJson().encode());
    } else {
      out.print(report.summary());
    }
    out.flush();
    System.err.print(json ? report.summary() : "");
    boolean complete = report.registered() == workers && report.maxConnected() >= workers;
    return complete ? Cli.EXIT_OK : Cli.EXIT_FAILURE;
  }

  private static Duration dur(String option, String value) {
    return "0".equals(value.trim()) ? Duration.ZERO : OperatorCommands.duration(option, value);
  }
}
