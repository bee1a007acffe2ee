package io.zlayer.worker.pki;

import static org.junit.jupiter.api.Assertions.*;

import java.net.URI;
import org.junit.jupiter.api.Test;

class NodeIdentityTest {
  @Test
  void uriAndCommonName() {
    assertEquals(URI.create("spiffe://c7f3a9/node/42"), new NodeIdentity("c7f3a9", 42).uri());
    assertEquals("node-42", NodeIdentity.commonName(42));
  }

  @Test
  void rejectsInvalidClusterId() {
    assertThrows(IllegalArgumentException.class, () -> new NodeIdentity("Bad/Id", 1));
    assertThrows(IllegalArgumentException.class, () -> new NodeIdentity("", 1));
    assertThrows(IllegalArgumentException.class, () -> new NodeIdentity("ok", -1));
  }
}
