/** Byte helpers shared by the key stores. */

/**
 * A copy of `b` in fresh memory. Not `b.slice()`: on a Node `Buffer` (what
 * `MasterKey.encode()` and most I/O return) `slice` is a view of the same
 * memory, so the server wiping its buffer would wipe the stored key too.
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}
