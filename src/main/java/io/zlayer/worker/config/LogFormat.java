package io.zlayer.worker.config;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import org.slf4j.LoggerFactory;

/**
 * The {@code log_format} key: {@code text} (default, ISO-8601 time, level, logger, message) or
 * {@code json} (one JSON object per line on stderr, for log shippers). Applied once the config is
 * read, so the few lines logged before that are text.
 */
public enum LogFormat {
  TEXT, JSON;

  static final String KEY = "log_format";
  private static final String APPENDER = "STDERR";
  /** As in logback.xml: ISO-8601 time with its zone. */
  static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{0} - %msg%n";

  /** The format a config asks for; {@link ConfigException} naming the key on a bad value. */
  public static LogFormat of(JsonObject config) {
    Object value = config.getValue(KEY);
    if (value == null) {
      return TEXT;
    }
    if (value instanceof String s) {
      for (LogFormat f : values()) {
        if (f.name().toLowerCase(Locale.ROOT).equals(s)) {
          return f;
        }
      }
    }
    throw new ConfigException(KEY + ": expected text or json, got " + Values.describe(value));
  }

  /** Switches the process's stderr appender to this format (no-op without logback, or if already so). */
  public void apply() {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return;
    }
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    boolean json = root.getAppender(APPENDER) instanceof ConsoleAppender<ILoggingEvent> current
        && current.getEncoder() instanceof JsonEncoder;
    if (json == (this == JSON)) {
      return;
    }
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(context);
    appender.setName(APPENDER);
    appender.setTarget("System.err");
    appender.setEncoder(this == JSON ? jsonEncoder(context) : textEncoder(context));
    appender.start();
    root.detachAppender(APPENDER);
    root.addAppender(appender);
  }

  private static Encoder<ILoggingEvent> jsonEncoder(LoggerContext context) {
    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(context);
    encoder.setWithSequenceNumber(false);
    encoder.setWithNanoseconds(false);
    encoder.setWithContext(false);
    encoder.setWithMessage(false);
    encoder.setWithArguments(false);
    encoder.setWithFormattedMessage(true);
    encoder.start();
    return encoder;
  }

  private static Encoder<ILoggingEvent> textEncoder(LoggerContext context) {
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(TEXT_PATTERN);
    encoder.start();
    return encoder;
  }
}
