package io.zlayer.worker.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The live watchers, indexed by their prefix: a write to key K reaches the watchers registered
 * on a prefix of K by one map lookup per prefix length of K, instead of a scan of every watcher
 * (with 10,000 workers holding two watches each, a scan made every write cost 20,000 checks).
 */
final class WatcherIndex {
  private final Map<String, List<StoreWatcher>> byPrefix = new ConcurrentHashMap<>();

  void add(StoreWatcher watcher) {
    byPrefix.computeIfAbsent(watcher.prefix, p -> new CopyOnWriteArrayList<>()).add(watcher);
  }

  void remove(StoreWatcher watcher) {
    byPrefix.computeIfPresent(watcher.prefix, (p, list) -> {
      list.remove(watcher);
      return list.isEmpty() ? null : list;
    });
  }

  /** Watchers whose prefix is a prefix of {@code key} (the empty prefix included). */
  List<StoreWatcher> matching(String key) {
    List<StoreWatcher> out = null;
    for (int end = 0; end <= key.length(); end++) {
      List<StoreWatcher> list = byPrefix.get(key.substring(0, end));
      if (list != null) {
        if (out == null) {
          out = new ArrayList<>();
        }
        out.addAll(list);
      }
    }
    return out == null ? List.of() : out;
  }

  Collection<StoreWatcher> all() {
    List<StoreWatcher> out = new ArrayList<>();
    byPrefix.values().forEach(out::addAll);
    return out;
  }
}
