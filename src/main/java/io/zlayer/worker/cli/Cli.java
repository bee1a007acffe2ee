package io.zlayer.worker.cli;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.zlayer.worker.config.ConfigException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** What the commands share: exit codes, waiting on futures from the main thread, error lines. */
final class Cli {
  static final int EXIT_OK = 0;
  static final int EXIT_FAILURE = 1;
  static final int EXIT_CONFIG = 2;

  private Cli() {
  }

  /** A wrong invocation or configuration: exit 2 with one line. */
  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message, null, false, false);
    }
  }

  /** Waits for a future from a non-Vert.x thread. */
  static <T> T await(Future<T> future, Duration timeout) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ConfigException config) {
        throw new UsageException("config error: " + config.getMessage());
      }
      throw cause instanceof Exception ex ? ex : e;
    } catch (TimeoutException e) {
      throw new TimeoutException("no answer within " + timeout.toSeconds() + "s");
    }
  }

  static String describe(Throwable e) {
    if (e instanceof UsageException) {
      return e.getMessage();
    }
    if (e instanceof ConfigException) {
      return "config error: " + e.getMessage();
    }
    String message = e.getMessage();
    return "error: " + (message == null || message.isBlank() ? e.getClass().getSimpleName() : message);
  }

  static void closeQuietly(Vertx vertx) {
    try {
      await(vertx.close(), Duration.ofSeconds(10));
    } catch (Exception ignored) {
      // best effort on the way out
    }
  }
}
