package io.zlayer.worker.store;

/** Outcome of a txn: succeeded=false means a compare failed and nothing was written; revision is the store revision after the call. */
public record TxnResult(boolean succeeded, long revision) {}
