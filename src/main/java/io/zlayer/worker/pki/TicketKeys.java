package io.zlayer.worker.pki;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The TLS session-ticket keys of a cluster's controllers, as plain data: derived (HKDF-Expand,
 * RFC 5869, SHA-256) from a secret every controller shares, here one derived from the worker CA
 * key, and the epoch of the wall clock. So any controller, and a restarted one, decrypts the
 * tickets any other issued, with no key stored or exchanged. Keys rotate every {@link #ROTATION}:
 * a controller encrypts with the current epoch's key and accepts the previous epoch's (a ticket
 * issued just before a rotation) and the next one's (a controller whose clock runs ahead).
 */
public final class TicketKeys {
  /** How long one key encrypts new tickets; a ticket stays usable for one to two of these. */
  public static final Duration ROTATION = Duration.ofDays(1);
  /** What a ticket promises the client (TLS 1.3 caps it at 7 days; BoringSSL resumes up to 2). */
  public static final Duration TICKET_LIFETIME = ROTATION.multipliedBy(2);
  public static final int NAME_BYTES = 16;
  public static final int HMAC_BYTES = 16;
  public static final int AES_BYTES = 16;

  /** One key: its name (sent in the clear inside the ticket), its HMAC and AES keys. */
  public record Key(long epoch, byte[] name, byte[] hmac, byte[] aes) {
  }

  private final byte[] secret;

  public TicketKeys(byte[] secret) {
    if (secret.length < 32) {
      throw new IllegalArgumentException("a ticket-key secret needs at least 32 bytes");
    }
    this.secret = secret.clone();
  }

  public static long epoch(Instant now) {
    return Math.floorDiv(now.getEpochSecond(), ROTATION.toSeconds());
  }

  /** The keys to install at {@code now}: the current one first (it encrypts), then the previous and the next. */
  public List<Key> at(Instant now) {
    long epoch = epoch(now);
    return List.of(key(epoch), key(epoch - 1), key(epoch + 1));
  }

  Key key(long epoch) {
    byte[] okm = expand(("zlayer tls ticket key, epoch " + epoch).getBytes(StandardCharsets.UTF_8),
        NAME_BYTES + HMAC_BYTES + AES_BYTES);
    return new Key(epoch, Arrays.copyOfRange(okm, 0, NAME_BYTES),
        Arrays.copyOfRange(okm, NAME_BYTES, NAME_BYTES + HMAC_BYTES),
        Arrays.copyOfRange(okm, NAME_BYTES + HMAC_BYTES, okm.length));
  }

  /** HKDF-Expand (RFC 5869 section 2.3) with the secret as the pseudo-random key. */
  private byte[] expand(byte[] info, int length) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      ByteBuffer out = ByteBuffer.allocate(length);
      byte[] previous = new byte[0];
      for (int counter = 1; out.hasRemaining(); counter++) {
        mac.update(previous);
        mac.update(info);
        mac.update((byte) counter);
        previous = mac.doFinal();
        out.put(previous, 0, Math.min(previous.length, out.remaining()));
      }
      return out.array();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is unavailable: " + e.getMessage(), e);
    }
  }
}
