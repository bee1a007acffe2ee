package io.zlayer.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HostPortTest {

  @Test
  void parsesForms() {
    assertEquals(new HostPort("0.0.0.0", 3670), HostPort.parse("k", "0.0.0.0:3670"));
    assertEquals(new HostPort("::1", 3670), HostPort.parse("k", "[::1]:3670"));
    assertEquals(new HostPort("controller-1.example.com", 0), HostPort.parse("k", "controller-1.example.com:0"));
    assertEquals(new HostPort("localhost", 65535), HostPort.parse("k", " localhost:65535 "));
  }

  @Test
  void formats() {
    assertEquals("0.0.0.0:3670", new HostPort("0.0.0.0", 3670).toString());
    assertEquals("[fe80::1]:80", new HostPort("fe80::1", 80).toString());
    assertEquals("[::1]:3670", HostPort.parse("k", "[::1]:3670").toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "host", "host:", ":3670", "host:65536", "host:-1", "host:abc", "::1:3670",
      "[::1]", "[::1]3670", "256.1.1.1:80", "bad host:80", "[zz]:80"})
  void rejects(String in) {
    ConfigException e = assertThrows(ConfigException.class, () -> HostPort.parse("worker_grpc_addr", in));
    assertTrue(e.getMessage().startsWith("worker_grpc_addr: "), e.getMessage());
  }

  @Test
  void loopbackIsReadFromTheTextAlone() {
    for (String host : new String[] {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) {
      org.junit.jupiter.api.Assertions.assertTrue(new HostPort(host, 1).loopback(), host);
    }
    for (String host : new String[] {"0.0.0.0", "10.0.0.5", "example.org", "::", "128.0.0.1"}) {
      org.junit.jupiter.api.Assertions.assertFalse(new HostPort(host, 1).loopback(), host);
    }
  }
}
