package io.zlayer.worker.store;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Argument checks and key arithmetic shared by store implementations. */
public final class StoreArgs {

  private StoreArgs() {}

  /**
   * Smallest string greater than every string starting with prefix, in code-point order (which is
   * SQLite's BINARY order on UTF-8); null when there is none (empty prefix or all max code points).
   */
  public static String prefixEnd(String prefix) {
    int[] cps = prefix.codePoints().toArray();
    for (int n = cps.length - 1; n >= 0; n--) {
      if (cps[n] < Character.MAX_CODE_POINT) {
        int next = cps[n] + 1;
        if (next >= Character.MIN_SURROGATE && next <= Character.MAX_SURROGATE) {
          next = Character.MAX_SURROGATE + 1; // surrogates are not code points of valid UTF-8
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
          sb.appendCodePoint(cps[i]);
        }
        return sb.appendCodePoint(next).toString();
      }
    }
    return null;
  }

  public static String badKey(String key) {
    return key == null ? "key must not be null" : key.isEmpty() ? "key must not be empty" : null;
  }

  public static String validate(List<Compare> compares, List<Op> ops) {
    if (compares == null || ops == null) {
      return "compares and ops must not be null";
    }
    for (Compare c : compares) {
      if (c == null) {
        return "compare must not be null";
      }
      String bad = badKey(c.key());
      if (bad != null) {
        return "compare " + bad;
      }
      if (c.modRevision() < 0) {
        return "compare modRevision must be >= 0 for key " + c.key();
      }
    }
    Set<String> seen = new HashSet<>();
    for (Op op : ops) {
      if (op == null) {
        return "op must not be null";
      }
      String bad = badKey(op.key());
      if (bad != null) {
        return "op " + bad;
      }
      if (op instanceof Op.Put p && p.value() == null) {
        return "put value must not be null for key " + p.key();
      }
      if (!seen.add(op.key())) {
        return "duplicate key in txn ops: " + op.key(); // etcd rejects this too
      }
    }
    return null;
  }
}
