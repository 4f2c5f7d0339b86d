/**
 * CSPRNG bytes for the hot paths (the iv and nonce of every encryption, the plaintext of
 * every data key), served from a 4 KiB pool refilled by one `randomFillSync` call.
 *
 * Why: under load a `randomBytes(32)` call per request costs as much as the AEAD seal
 * (node:crypto creates a job object per call), and a generate needs 60 random bytes.
 * Each pool byte is handed out exactly once and zeroed in the pool as it is taken.
 *
 * Threat note: the pool holds up to 4 KiB of bytes that will become future ivs, nonces and
 * data keys. A reader of process memory could learn them; the same reader could read the
 * OpenSSL DRBG state that determines every future output, and the master keys themselves,
 * so the pool adds no exposure a memory reader does not already have. The pool never
 * reaches logs, errors or replies.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
/** Requests larger than this bypass the pool (they would drain it for little gain). */
const MAX_POOLED = 256;

const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** Fills `target` with cryptographically secure random bytes. */
export function fillRandom(target: Uint8Array): void {
  const n = target.length;
  if (n > MAX_POOLED) {
    randomFillSync(target);
    return;
  }
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const end = offset + n;
  target.set(pool.subarray(offset, end));
  pool.fill(0, offset, end);
  offset = end;
}

/** `n` fresh random bytes in a new buffer (see `fillRandom`). */
export function randomBuffer(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  fillRandom(out);
  return out;
}
