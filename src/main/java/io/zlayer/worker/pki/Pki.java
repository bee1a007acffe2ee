package io.zlayer.worker.pki;

import java.security.Security;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/** Owns the one-time registration of the BouncyCastle JCA provider used by this package. */
public final class Pki {
  /** Provider name passed to JCA/BC builders; JDK 17 cannot verify EC CSRs and SunEC signs P-256 slowly. */
  public static final String PROVIDER = "BC";

  private Pki() {}

  /** Registers BouncyCastle once per JVM; cheap to call on every entry point. Idempotent and thread-safe. */
  public static void ensureProvider() {
    Registration.touch();
  }

  /** Holder idiom: the JVM runs the static initializer exactly once, with the needed memory barriers. */
  private static final class Registration {
    static {
      // Another component may already have registered a BC provider; reuse it rather than adding a second.
      if (Security.getProvider(PROVIDER) == null) {
        Security.addProvider(new BouncyCastleProvider());
      }
    }

    static void touch() {
      // Intentionally empty: calling it forces class initialization.
    }
  }
}
