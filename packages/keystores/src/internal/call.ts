/** Checks every key-store call makes first. */
import { KesError } from '@kes/core';

/**
 * Rejects an aborted call with the signal's reason, and any call on a closed
 * store with `ERR_KES_KEYSTORE_UNAVAILABLE`.
 *
 * @throws the signal's reason when `signal` is aborted
 * @throws ERR_KES_KEYSTORE_UNAVAILABLE when `closed`
 */
export function checkCall(closed: boolean, signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
  if (closed) throw new KesError('ERR_KES_KEYSTORE_UNAVAILABLE', [], { cause: new Error('key store is closed') });
}
