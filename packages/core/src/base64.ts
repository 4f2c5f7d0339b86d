/**
 * Standard base64 with Go semantics (kes-protocol.md §3.1, §3.2): request fields that carry
 * bytes (`plaintext`, `context`, imported keys) and stored key versions.
 *
 * A KES-compatible server must accept and reject exactly what the Go server does, so
 * decoding does not use Node's lenient decoder directly (it skips invalid characters).
 */
import { Buffer } from 'node:buffer';
import { KesError } from './errors.js';

/**
 * Canonical padded standard base64 (without CR/LF): alphabet characters, then at most
 * two `=`; with the length a multiple of 4 this is exactly "padding only at the end".
 * A single native regex scan is about twice as fast as a JavaScript loop on the 1–2 KB
 * fields of hot requests.
 */
const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True if `s` (without CR/LF) is canonical padded standard base64. */
function isStdBase64(s: string): boolean {
  return s.length % 4 === 0 && STD_BASE64.test(s); // URL-safe chars, misplaced '=', junk → false
}

function invalidBase64(): KesError {
  // Never echo the input: it may be key material.
  return new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid base64 encoding']);
}

/**
 * Decodes standard, padded base64 exactly like Go's `base64.StdEncoding`:
 * `\r` and `\n` anywhere are ignored; URL-safe characters, missing or misplaced
 * padding and any other character are errors.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid base64 encoding`); the input is never echoed.
 * @example
 * decodeBase64Strict('AAE='); // Uint8Array [0, 1]
 */
export function decodeBase64Strict(s: string): Uint8Array {
  if (typeof s !== 'string') throw invalidBase64();
  let t = s;
  if (t.includes('\n') || t.includes('\r')) t = t.replace(/[\r\n]/g, '');
  if (!isStdBase64(t)) throw invalidBase64();
  return Buffer.from(t, 'base64');
}

/**
 * Encodes bytes as standard, padded base64 (Go `base64.StdEncoding`).
 *
 * @example
 * encodeBase64(new Uint8Array([0, 1])); // 'AAE='
 */
export function encodeBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}
