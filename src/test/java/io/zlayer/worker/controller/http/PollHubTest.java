package io.zlayer.worker.controller.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PollHubTest {
  static final class Probe implements PollHub.Waiter<String> {
    final long last;
    final List<String> ends = new ArrayList<>();

    Probe(long last) {
      this.last = last;
    }

    public long lastRevision() {
      return last;
    }

    public void wake(String event) {
      ends.add("wake " + event);
    }

    public void supersede() {
      ends.add("supersede");
    }
  }

  @Test
  void onePollPerNodeNewerAnswersOlderEmpty() {
    PollHub<String> hub = new PollHub<>(10);
    Probe a = new Probe(5);
    Probe b = new Probe(5);
    assertEquals(PollHub.Outcome.HELD, hub.hold(1, a));
    assertEquals(PollHub.Outcome.HELD, hub.hold(1, b));
    assertEquals(List.of("supersede"), a.ends);
    assertEquals(1, hub.size());
    hub.event(1, 6, "e6");
    assertEquals(List.of("wake e6"), b.ends);
    assertEquals(0, hub.size());
  }

  @Test
  void capacityIsGlobalAndAnEventThatRacedThePollWakesItNow() {
    PollHub<String> hub = new PollHub<>(2);
    assertEquals(PollHub.Outcome.HELD, hub.hold(1, new Probe(0)));
    assertEquals(PollHub.Outcome.HELD, hub.hold(2, new Probe(0)));
    assertEquals(PollHub.Outcome.OVER_CAPACITY, hub.hold(3, new Probe(0)));
    hub.event(4, 9, "e9");
    assertEquals(PollHub.Outcome.WAKE_NOW, hub.hold(4, new Probe(8)));
    Probe released = new Probe(0);
    hub.release(1, released); // not the held one: no effect
    assertEquals(2, hub.size());
  }

  @Test
  void aCollectedNodeLeavesNothingBehind() {
    PollHub<String> hub = new PollHub<>(10);
    hub.event(7, 9, "e9");
    assertEquals(PollHub.Outcome.WAKE_NOW, hub.hold(7, new Probe(0)), "an event it has not seen");
    hub.forget(7);
    Probe held = new Probe(0);
    assertEquals(PollHub.Outcome.HELD, hub.hold(7, held), "nothing kept for the node any more");
    hub.forget(7);
    assertEquals(List.of("supersede"), held.ends, "a poll still held is answered");
    assertEquals(0, hub.size());
  }
}
