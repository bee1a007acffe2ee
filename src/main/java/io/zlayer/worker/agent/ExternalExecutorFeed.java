package io.zlayer.worker.agent;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.bus.Addresses;
import io.zlayer.worker.pki.SecureFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * With {@code executor: external}: feeds the bridge client that replaces the built-in executor at
 * least once. Every assignment event stays pending here until the executor acknowledges it
 * ({@link Addresses#WORKER_EXECUTOR_ACK} with the revision it applied up to); what is pending is
 * published again on {@link Addresses#WORKER_ASSIGNMENTS} when the executor comes back and asks
 * ({@link Addresses#WORKER_EXECUTOR_ATTACH}), and every {@value #REDELIVER_MS} ms while nothing is
 * acknowledged, so an executor that was away (disconnected, restarting) misses nothing. Events
 * carry their revision: a redelivered one is applied again or skipped by the executor.
 *
 * <p>The acknowledged revision is kept in {@code <data_dir>/}{@value #FILE} (0600) and answers
 * {@link Addresses#WORKER_EXECUTOR_APPLIED}, so a restarted agent resumes its watch from it and the
 * controller replays what was pending. At most {@value #MAX_PENDING} events are held in memory;
 * past that the oldest are dropped with a warning (the next agent start replays them from the
 * controller, from the last acknowledgement).
 */
public final class ExternalExecutorFeed extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ExternalExecutorFeed.class);
  static final String FILE = "external-executor.json";
  static final int MAX_PENDING = 10_000;
  static final long REDELIVER_MS = 5_000;

  private final Path file;
  /** An event not yet acknowledged, and when it last went out. */
  private record Pending(JsonObject event, long sentNanos) {
  }

  private final TreeMap<Long, Pending> pending = new TreeMap<>();
  private final List<MessageConsumer<JsonObject>> consumers = new ArrayList<>();
  private long acked;
  private long lastAck = System.nanoTime();
  private long timer = -1;
  private boolean overflowWarned;
  private Future<Void> lastWrite = Future.succeededFuture();

  public ExternalExecutorFeed(Path dataDir) {
    this.file = dataDir.resolve(FILE);
  }

  @Override
  public Future<?> start() {
    return vertx.executeBlocking(() -> Files.exists(file)
        ? new JsonObject(SecureFiles.readPrivate(file)).getLong("acked_revision", 0L) : 0L).compose(loaded -> {
          acked = loaded;
          consumers.add(vertx.eventBus().consumer(Addresses.WORKER_ASSIGNMENTS, this::onAssignment));
          consumers.add(vertx.eventBus().consumer(Addresses.WORKER_EXECUTOR_ACK, this::onAck));
          consumers.add(vertx.eventBus().consumer(Addresses.WORKER_EXECUTOR_ATTACH, this::onAttach));
          consumers.add(vertx.eventBus().consumer(Addresses.WORKER_EXECUTOR_APPLIED,
              m -> m.reply(new JsonObject().put("revision", acked))));
          consumers.add(vertx.eventBus().consumer(Addresses.WORKER_EXECUTOR_RESET, this::onReset));
          timer = vertx.setPeriodic(REDELIVER_MS, id -> redeliverIfQuiet());
          return Future.all(consumers.stream().map(MessageConsumer::completion).toList());
        });
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    consumers.forEach(MessageConsumer::unregister);
    return lastWrite;
  }

  private void onAssignment(Message<JsonObject> msg) {
    Long revision = msg.body().getLong("revision");
    if (revision == null || revision <= acked) {
      return; // already applied (or our own redelivery of one acknowledged since)
    }
    pending.putIfAbsent(revision, new Pending(msg.body(), System.nanoTime()));
    while (pending.size() > MAX_PENDING) {
      pending.pollFirstEntry();
      if (!overflowWarned) {
        overflowWarned = true;
        LOG.warn("the external executor has not acknowledged {} assignment events (last ack: revision {}); the oldest"
            + " are dropped from memory and replayed by the controller when the agent restarts", MAX_PENDING, acked);
      }
    }
  }

  private void onAck(Message<JsonObject> msg) {
    Object value = msg.body() == null ? null : msg.body().getValue("revision");
    if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 0) {
      msg.fail(400, "revision must be a non-negative integer (the last assignment revision applied)");
      return;
    }
    long revision = ((Number) value).longValue();
    if (revision > acked) {
      acked = revision;
      pending.headMap(revision, true).clear();
      lastAck = System.nanoTime();
      overflowWarned = false;
      persist();
    }
    msg.reply(new JsonObject().put("acked_revision", acked).put("pending", pending.size()));
  }

  /** The executor is (back) on the bridge and subscribed: everything pending goes out again, in order. */
  private void onAttach(Message<JsonObject> msg) {
    int replayed = redeliver();
    LOG.info("external executor attached: acknowledged up to revision {}, {} pending event(s) sent again", acked, replayed);
    msg.reply(new JsonObject().put("acked_revision", acked).put("replayed", replayed));
  }

  /** Nothing acknowledged for a while and the oldest pending event went out that long ago: all go out again. */
  private void redeliverIfQuiet() {
    long now = System.nanoTime();
    long quiet = REDELIVER_MS * 1_000_000;
    if (!pending.isEmpty() && now - lastAck >= quiet && now - pending.firstEntry().getValue().sentNanos() >= quiet) {
      redeliver();
    }
  }

  private int redeliver() {
    long now = System.nanoTime();
    List<JsonObject> events = new ArrayList<>(pending.size());
    pending.replaceAll((revision, p) -> {
      events.add(p.event());
      return new Pending(p.event(), now);
    });
    events.forEach(e -> vertx.eventBus().publish(Addresses.WORKER_ASSIGNMENTS, e));
    return events.size();
  }

  private void onReset(Message<JsonObject> msg) {
    pending.clear();
    acked = 0;
    persist().onComplete(ar -> msg.reply(new JsonObject()));
  }

  private Future<Void> persist() {
    String content = new JsonObject().put("acked_revision", acked).encode() + "\n";
    lastWrite = lastWrite.transform(previous -> vertx.<Void>executeBlocking(() -> {
      SecureFiles.writePrivate(file, content);
      return null;
    })).onFailure(e -> LOG.warn("cannot store the external executor's acknowledged revision in {}: {}", file, e.toString()));
    return lastWrite;
  }
}
