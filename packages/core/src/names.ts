/**
 * Name and list-pattern rules (kes-protocol.md §4.1).
 *
 * Key, policy and identity names taken from a URL are 1–80 bytes of
 * `0-9 A-Z a-z _ -`; `-` may be neither the first nor the last character and the
 * lone string `_` is invalid. A list pattern uses the same alphabet and hyphen
 * rule, may be empty, and may carry one `*` as its very last character.
 */
import { KesError } from './errors.js';

/** Longest name or pattern, in bytes. */
const MAX_LENGTH = 80;

/** True for `0-9 A-Z a-z _ -` (char codes, so non-ASCII is rejected before any byte counting). */
function isNameChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x5f || // _
    c === 0x2d // -
  );
}

/**
 * The shared character walk. Every accepted character is ASCII, so the string
 * length equals its UTF-8 byte length and any non-ASCII character fails here.
 * `-` is rejected at the first and last position; with `allowStar`, `*` is accepted
 * only as the last character (so `my-*` passes: its `-` is not last).
 */
function walk(s: string, allowStar: boolean): boolean {
  const last = s.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2d /* - */) {
      if (i === 0 || i === last) return false;
    } else if (c === 0x2a /* * */) {
      if (!allowStar || i !== last) return false;
    } else if (!isNameChar(c)) {
      return false;
    }
  }
  return true;
}

/**
 * True if `s` is a valid key, policy or identity name (§4.1).
 *
 * @example
 * isValidName('my-key'); // true
 * isValidName('my.key'); // false
 */
export function isValidName(s: string): boolean {
  if (s.length === 0 || s.length > MAX_LENGTH || s === '_') return false;
  return walk(s, false);
}

/**
 * True if `s` is a valid list pattern (§4.1): empty, or name characters with an
 * optional single `*` as the very last character (`*` alone is valid). The whole
 * pattern, including the `*`, is at most 80 bytes; `-` may not be its first or
 * last character; the lone `_` is invalid (but `_*` is valid).
 *
 * @example
 * isValidPattern('my*'); // true
 * isValidPattern('*-*'); // false
 */
export function isValidPattern(s: string): boolean {
  if (s.length > MAX_LENGTH || s === '_') return false;
  return walk(s, true);
}

/**
 * Throws unless `s` is a valid key name.
 *
 * @throws KesError `ERR_KES_INVALID_KEY_NAME`
 * @example
 * validateKeyName('my-key');
 */
export function validateKeyName(s: string): void {
  if (!isValidName(s)) throw new KesError('ERR_KES_INVALID_KEY_NAME', [s]);
}

/**
 * Throws unless `s` is a valid policy name.
 *
 * @throws KesError `ERR_KES_INVALID_POLICY_NAME`
 * @example
 * validatePolicyName('minio');
 */
export function validatePolicyName(s: string): void {
  if (!isValidName(s)) throw new KesError('ERR_KES_INVALID_POLICY_NAME', [s]);
}

/**
 * Throws unless `s` is a valid identity (by the name rule; any 64-char hex identity passes).
 *
 * @throws KesError `ERR_KES_INVALID_IDENTITY`
 * @example
 * validateIdentityName('3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22');
 */
export function validateIdentityName(s: string): void {
  if (!isValidName(s)) throw new KesError('ERR_KES_INVALID_IDENTITY', [s]);
}

/**
 * Throws unless `s` is a valid list pattern.
 *
 * @throws KesError `ERR_KES_INVALID_PATTERN`
 * @example
 * validatePattern('my-*');
 */
export function validatePattern(s: string): void {
  if (!isValidPattern(s)) throw new KesError('ERR_KES_INVALID_PATTERN', [s]);
}
