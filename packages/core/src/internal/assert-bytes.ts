/**
 * The one length check for byte arguments. The message names the argument and the
 * lengths, never the bytes: they are usually key material.
 */
import { KesError } from '../errors.js';

/**
 * Throws unless `value` is a Uint8Array of exactly `length` bytes.
 *
 * @param name - the argument as the caller knows it (`key`, `hchacha20: input`, …).
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`<name> must be <length> bytes, got <n>`;
 *   `n` is 0 when `value` is not a Uint8Array at all).
 */
export function assertBytes(value: unknown, length: number, name: string): asserts value is Uint8Array {
  if (value instanceof Uint8Array && value.length === length) return;
  const got = value instanceof Uint8Array ? value.length : 0;
  throw new KesError('ERR_KES_INVALID_ARGUMENT', [`${name} must be ${length} bytes, got ${got}`]);
}
