package io.zlayer.worker.controller.core;

import io.vertx.core.json.JsonObject;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A read-only copy of a small JSON object, kept per node for the node's life (its profile): the
 * keys and values in one array, in their order, instead of a {@code LinkedHashMap} with a
 * 16-bucket table and an entry object per field (~420 bytes of a 7-field profile, ~90 frozen).
 * Nested objects are frozen too; the usual values of {@code os} and {@code arch} are shared.
 * Reading, encoding and {@link JsonObject#copy()} work as on any {@link JsonObject}; changing it
 * throws {@link UnsupportedOperationException}.
 */
public final class FrozenJson {
  private FrozenJson() {
  }

  /** {@code json} frozen (itself when it already is, or null). */
  public static JsonObject freeze(JsonObject json) {
    if (json == null || json.getMap() instanceof ArrayMap) {
      return json;
    }
    Object[] kv = new Object[json.size() * 2];
    int i = 0;
    for (Map.Entry<String, Object> e : json.getMap().entrySet()) {
      Object value = e.getValue();
      if (value instanceof JsonObject nested) {
        value = freeze(nested);
      } else if (value instanceof Map<?, ?> map) {
        @SuppressWarnings("unchecked")
        JsonObject nested = new JsonObject((Map<String, Object>) map);
        value = freeze(nested);
      } else if (value instanceof String s && ("os".equals(e.getKey()) || "arch".equals(e.getKey())) && s.length() <= 32) {
        value = s.intern(); // a handful of distinct values across a fleet
      }
      kv[i++] = e.getKey();
      kv[i++] = value;
    }
    return new JsonObject(new ArrayMap(kv));
  }

  /** Keys at even, values at odd indexes; read-only. */
  static final class ArrayMap extends AbstractMap<String, Object> {
    private final Object[] kv;

    ArrayMap(Object[] kv) {
      this.kv = kv;
    }

    @Override
    public int size() {
      return kv.length / 2;
    }

    @Override
    public Object get(Object key) {
      for (int i = 0; i < kv.length; i += 2) {
        if (kv[i].equals(key)) {
          return kv[i + 1];
        }
      }
      return null;
    }

    @Override
    public boolean containsKey(Object key) {
      for (int i = 0; i < kv.length; i += 2) {
        if (kv[i].equals(key)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public Set<Entry<String, Object>> entrySet() {
      return new AbstractSet<>() {
        @Override
        public int size() {
          return kv.length / 2;
        }

        @Override
        public Iterator<Entry<String, Object>> iterator() {
          return new Iterator<>() {
            private int i;

            @Override
            public boolean hasNext() {
              return i < kv.length;
            }

            @Override
            public Entry<String, Object> next() {
              if (i >= kv.length) {
                throw new NoSuchElementException();
              }
              Entry<String, Object> e = new SimpleImmutableEntry<>((String) kv[i], kv[i + 1]);
              i += 2;
              return e;
            }
          };
        }
      };
    }
  }
}
