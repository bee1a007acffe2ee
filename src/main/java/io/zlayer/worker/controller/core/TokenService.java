package io.zlayer.worker.controller.core;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.zlayer.worker.pki.BootstrapToken;
import io.zlayer.worker.store.KeyValue;
import io.zlayer.worker.store.Op;
import io.zlayer.worker.store.Store;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Mints bootstrap tokens and checks them at registration. The store holds, per token, only
 * the SHA-256 of its secret, its expiry and its remaining uses ({@code tokens/<token_id>}).
 * Redemption is made atomic by the caller: it commits {@link Redemption#consume()} in the same
 * compare-and-set transaction that stores the node.
 */
public final class TokenService {
  public static final Duration DEFAULT_TTL = Duration.ofHours(1);
  public static final Duration MAX_TTL = Duration.ofDays(30);
  public static final String PREFIX = "tokens/";

  private final Store store;
  private final String clusterId;
  private final String caSha256;
  private final Clock clock;

  public TokenService(Store store, String clusterId, String caSha256, Clock clock) {
    this.store = store;
    this.clusterId = clusterId;
    this.caSha256 = caSha256;
    this.clock = clock;
  }

  /** A checked, not yet consumed token: the stored record it was checked against. */
  public record Redemption(String tokenId, KeyValue record) {
    /** The token's use: its record's write, to commit with {@code Compare.unchanged(record)}. */
    public Use use() {
      JsonObject json = new JsonObject(record.value());
      json.put("uses_left", json.getInteger("uses_left", 1) - 1);
      return new Use(record, json.encode());
    }
  }

  /** One use of a token: the record before ({@code record}) and its value after ({@code consumedValue}). */
  public record Use(KeyValue record, String consumedValue) {
    /** The write that uses the token once. */
    public Op op() {
      return Op.put(record.key(), consumedValue);
    }

    /** The record as {@link #op()} leaves it once committed at {@code revision}. */
    public KeyValue consumedAt(long revision) {
      return new KeyValue(record.key(), consumedValue, record.createRevision(), revision, record.version() + 1);
    }
  }

  /**
   * Checks {@code checked}'s token against a newer record of it (one this controller wrote since),
   * without reading the store: the secret matched already; expiry and uses are checked again.
   */
  public Redemption recheck(Redemption checked, KeyValue newer) {
    JsonObject record = new JsonObject(newer.value());
    checkExpiry(record);
    checkUses(record);
    return new Redemption(checked.tokenId(), newer);
  }

  public Future<BootstrapToken> mint(Duration ttl, int uses) {
    if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
      return Future.failedFuture(ControlPlaneException.invalidArgument(
          "ttl must be between 1s and " + MAX_TTL.toDays() + "d"));
    }
    if (uses < 1) {
      return Future.failedFuture(ControlPlaneException.invalidArgument("uses must be at least 1"));
    }
    long expiresAt = clock.instant().plus(ttl).getEpochSecond();
    BootstrapToken token = BootstrapToken.mint(clusterId, expiresAt, caSha256);
    JsonObject record = new JsonObject()
        .put("secret_sha256", token.secretSha256())
        .put("expires_at", expiresAt)
        .put("uses_left", uses)
        .put("created_at", clock.instant().getEpochSecond());
    return store.put(PREFIX + token.tokenId(), record.encode()).map(rev -> token);
  }

  /** Decodes and checks a presented token; fails with UNAUTHENTICATED naming the reason. */
  public Future<Redemption> check(String encoded) {
    return check(encoded, tokenId -> null);
  }

  /**
   * As {@link #check(String)}, against {@code known}'s record of the token when it has one (a
   * record this controller wrote itself) instead of reading the store. A record that is stale
   * because another controller redeemed the token since is caught by the commit's
   * compare-and-set.
   */
  public Future<Redemption> check(String encoded, java.util.function.Function<String, KeyValue> known) {
    BootstrapToken token;
    try {
      token = BootstrapToken.decode(encoded);
    } catch (BootstrapToken.MalformedTokenException e) {
      return Future.failedFuture(ControlPlaneException.unauthenticated(e.getMessage()));
    }
    if (!token.clusterId().equals(clusterId)) {
      return Future.failedFuture(ControlPlaneException.unauthenticated(
          "bootstrap token belongs to cluster " + token.clusterId() + ", not to this cluster ("
              + clusterId + ")"));
    }
    KeyValue remembered = known.apply(token.tokenId());
    if (remembered != null) {
      try {
        verify(token, new JsonObject(remembered.value()));
        return Future.succeededFuture(new Redemption(token.tokenId(), remembered));
      } catch (ControlPlaneException e) {
        return Future.failedFuture(e);
      }
    }
    return store.get(PREFIX + token.tokenId()).map(found -> {
      KeyValue kv = found.orElseThrow(() -> ControlPlaneException.unauthenticated(
          "bootstrap token is unknown to this cluster"));
      verify(token, new JsonObject(kv.value()));
      return new Redemption(token.tokenId(), kv);
    });
  }

  /** Explains why a token that passed {@link #check} lost the race to another redemption. */
  public Future<ControlPlaneException> whyRefusedNow(String tokenId) {
    return store.get(PREFIX + tokenId).map(found -> {
      try {
        found.ifPresent(kv -> checkUses(new JsonObject(kv.value())));
        return null;
      } catch (ControlPlaneException e) {
        return e;
      }
    });
  }

  private void verify(BootstrapToken token, JsonObject record) {
    byte[] presented = token.secretSha256().getBytes(StandardCharsets.US_ASCII);
    byte[] stored = record.getString("secret_sha256", "").getBytes(StandardCharsets.US_ASCII);
    if (!MessageDigest.isEqual(presented, stored)) {
      throw ControlPlaneException.unauthenticated("bootstrap token is unknown to this cluster");
    }
    checkExpiry(record);
    checkUses(record);
  }

  private void checkExpiry(JsonObject record) {
    long expiresAt = record.getLong("expires_at", 0L);
    if (clock.instant().getEpochSecond() >= expiresAt) {
      throw ControlPlaneException.unauthenticated(
          "bootstrap token has expired (at " + Instant.ofEpochSecond(expiresAt) + ")");
    }
  }

  private static void checkUses(JsonObject record) {
    if (record.getInteger("uses_left", 0) <= 0) {
      throw ControlPlaneException.unauthenticated("bootstrap token has already been used");
    }
  }
}
