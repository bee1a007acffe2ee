package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class TicketKeysTest {
  private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final Instant NOON = Instant.parse("2026-11-29T12:00:00Z");

  @Test
  void controllersSharingTheSecretDeriveTheSameKeys() {
    List<TicketKeys.Key> a = new TicketKeys(SECRET).at(NOON);
    List<TicketKeys.Key> b = new TicketKeys(SECRET.clone()).at(NOON.plusSeconds(3600));
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).epoch(), b.get(i).epoch());
      assertArrayEquals(a.get(i).name(), b.get(i).name());
      assertArrayEquals(a.get(i).hmac(), b.get(i).hmac());
      assertArrayEquals(a.get(i).aes(), b.get(i).aes());
    }
  }

  @Test
  void theCurrentKeyEncryptsThePreviousAndNextAreAcceptedAndADayLaterTheyMoveOn() {
    TicketKeys keys = new TicketKeys(SECRET);
    List<TicketKeys.Key> today = keys.at(NOON);
    long epoch = TicketKeys.epoch(NOON);
    assertEquals(List.of(epoch, epoch - 1, epoch + 1), today.stream().map(TicketKeys.Key::epoch).toList());
    List<TicketKeys.Key> tomorrow = keys.at(NOON.plus(TicketKeys.ROTATION));
    assertArrayEquals(today.get(0).name(), tomorrow.get(1).name(), "today's key is tomorrow's previous");
    assertArrayEquals(today.get(2).aes(), tomorrow.get(0).aes(), "tomorrow's key was already accepted today");
    assertEquals(16, today.get(0).name().length);
    assertEquals(16, today.get(0).hmac().length);
    assertEquals(16, today.get(0).aes().length);
    assertFalse(Arrays.equals(today.get(0).hmac(), today.get(0).aes()));
  }

  @Test
  void anotherSecretGivesOtherKeysAndAShortSecretIsRefused() {
    byte[] other = SECRET.clone();
    other[0] ^= 1;
    assertFalse(Arrays.equals(new TicketKeys(SECRET).at(NOON).get(0).aes(), new TicketKeys(other).at(NOON).get(0).aes()));
    assertThrows(IllegalArgumentException.class, () -> new TicketKeys(new byte[16]));
  }
}
