package io.zlayer.worker.controller.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Node ids proposed by one of several live controllers: its own residue class; alone, 1, 2, 3, ... */
class NodeIdClassesTest {
  @Test
  void eachLiveControllerProposesIdsOfItsOwnClassAndAloneEveryId() {
    NodeDirectory second = new NodeDirectory(null, Clock.systemUTC()); // proposals touch no store
    second.liveControllers(List.of(3L, 1L, 2L), 2); // rank 1 of 3
    assertEquals(List.of(1L, 4L, 7L), List.of(second.proposeId(0), second.proposeId(0), second.proposeId(0)));
    second.release(4);
    assertEquals(4, second.proposeId(0), "a refused registration's id is offered again by its class");
    assertEquals(5, second.proposeId(5), "a desired free id is given, whatever its class");
    assertEquals(10, second.proposeId(0));

    NodeDirectory third = new NodeDirectory(null, Clock.systemUTC());
    third.liveControllers(List.of(1L, 2L, 3L), 3); // rank 2
    assertEquals(List.of(2L, 5L), List.of(third.proposeId(0), third.proposeId(0)));

    second.liveControllers(List.of(2L), 2); // the others left: every id again, past the highest
    assertEquals(List.of(11L, 12L), List.of(second.proposeId(0), second.proposeId(0)));
  }
}
