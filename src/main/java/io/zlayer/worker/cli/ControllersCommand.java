package io.zlayer.worker.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code bin/worker controllers}: the cluster's live controllers, their addresses, and which one leads. */
@Command(name = "controllers", mixinStandardHelpOptions = true,
    description = "List the cluster's controllers (with etcd: every live one; embedded store: this one) and the leader.")
final class ControllersCommand implements Callable<Integer> {
  private static final String ROW = "%-8s %-24s %-24s %s%n";

  @Mixin
  OperatorCommands.Target target;
  @Option(names = "--json", description = "print JSON")
  boolean json;
  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    JsonArray list = target.call(Addresses.OPERATOR_CONTROLLERS, new JsonObject())
        .getJsonArray("controllers", new JsonArray());
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(new JsonObject().put("controllers", list).encodePrettily());
    } else {
      out.print(render(list));
    }
    out.flush();
    return Cli.EXIT_OK;
  }

  static String render(JsonArray list) {
    StringBuilder s = new StringBuilder(String.format(ROW, "NODE_ID", "WORKER_ADDR", "OPERATOR_ADDR", "ROLE"));
    for (Object o : list) {
      JsonObject c = (JsonObject) o;
      String role = (c.getBoolean("leader", false) ? "leader" : "follower") + (c.getBoolean("self", false) ? " (asked)" : "");
      s.append(String.format(ROW, c.getLong("node_id"), c.getString("worker_addr"), c.getString("operator_addr"), role));
    }
    return s.toString();
  }
}
