package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Base64;
import org.junit.jupiter.api.Test;

class BootstrapTokenTest {
  @Test
  void roundTripsAsUrlSafeBase64AndHidesTheSecret() throws Exception {
    BootstrapToken token = BootstrapToken.mint("cabc", 1_800_000_000L, "ff".repeat(32));
    String encoded = token.encode();
    assertTrue(encoded.matches("[A-Za-z0-9_-]+"), encoded);
    assertEquals(token, BootstrapToken.decode(encoded));
    assertFalse(token.toString().contains(token.secret()));
    String json = new String(Base64.getUrlDecoder().decode(encoded));
    for (String field : new String[] {"cluster_id", "token_id", "secret", "expires_at", "ca_sha256"}) {
      assertTrue(json.contains("\"" + field + "\""), field);
    }
  }

  @Test
  void malformedTokensSayWhy() {
    assertTrue(assertThrows(BootstrapToken.MalformedTokenException.class, () -> BootstrapToken.decode(""))
        .getMessage().contains("empty"));
    assertTrue(assertThrows(BootstrapToken.MalformedTokenException.class, () -> BootstrapToken.decode("%%%"))
        .getMessage().contains("base64"));
    String noSecret = Base64.getUrlEncoder().encodeToString("{\"cluster_id\":\"c\",\"token_id\":\"t\",\"expires_at\":1,\"ca_sha256\":\"x\"}".getBytes());
    assertTrue(assertThrows(BootstrapToken.MalformedTokenException.class, () -> BootstrapToken.decode(noSecret))
        .getMessage().contains("secret is missing"));
  }
}
