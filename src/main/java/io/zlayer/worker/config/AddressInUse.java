package io.zlayer.worker.config;

import io.vertx.core.Future;
import java.util.function.Function;

/**
 * Turns a failed bind into one line naming the address and the config key that sets it
 * ("bridge_port 127.0.0.1:3671: address already in use; ..."), whichever transport reported it
 * (the JDK's BindException, or the native transport's "Address already in use").
 */
public final class AddressInUse {
  private AddressInUse() {
  }

  /** For {@code listen(...).recover(...)}: a bind failure becomes a {@link ConfigException} naming {@code key}. */
  public static <T> Function<Throwable, Future<T>> explain(String key, Object address) {
    return e -> Future.failedFuture(inUse(e)
        ? new ConfigException(key + " " + address + ": address already in use (another controller or worker, or"
            + " another program, holds it): stop it, or set " + key + " to a free address")
        : e);
  }

  static boolean inUse(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.net.BindException
          || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
        return true;
      }
    }
    return false;
  }
}
