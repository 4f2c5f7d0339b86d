/**
 * HChaCha20 (draft-irtf-cfrg-xchacha §2.2): the ChaCha20 block function without the
 * final feed-forward, keyed with a 32-byte key and a 16-byte input, returning words
 * 0–3 and 12–15 of the permuted state. KES derives its per-message ChaCha20 key with
 * it (kes-protocol.md §7.2). Pure TypeScript; node:crypto does not expose it.
 */
import { assertBytes } from './assert-bytes.js';

/** Little-endian 32-bit word at `b[i..i+4)`. */
function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function rotl(v: number, n: number): number {
  return (v << n) | (v >>> (32 - n));
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha §2.2): derives a 32-byte subkey from a 32-byte
 * key and a 16-byte input. The checked form of {@link hchacha20Block}.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` if `key` is not 32 bytes or `input` not 16 bytes.
 * @example
 * const subkey = hchacha20(key32, iv16); // Uint8Array(32)
 */
export function hchacha20(key: Uint8Array, input: Uint8Array): Uint8Array {
  assertBytes(key, 32, 'hchacha20: key');
  assertBytes(input, 16, 'hchacha20: input');
  return hchacha20Block(key, input);
}

/**
 * Computes HChaCha20(key, input) into a new 32-byte array without checking lengths:
 * the per-message key derivation in crypto.ts always passes a 32-byte key and a
 * 16-byte iv, and sits on the hot path of every ChaCha20 encryption.
 */
// biome-ignore format: the state words are laid out as the 4x4 ChaCha matrix
export function hchacha20Block(key: Uint8Array, input: Uint8Array): Uint8Array {
  // "expand 32-byte k"
  let x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
  let x4 = le32(key, 0), x5 = le32(key, 4), x6 = le32(key, 8), x7 = le32(key, 12);
  let x8 = le32(key, 16), x9 = le32(key, 20), x10 = le32(key, 24), x11 = le32(key, 28);
  let x12 = le32(input, 0), x13 = le32(input, 4), x14 = le32(input, 8), x15 = le32(input, 12);

  for (let r = 0; r < 10; r++) {
    // Column round.
    x0 = (x0 + x4) | 0; x12 = rotl(x12 ^ x0, 16); x8 = (x8 + x12) | 0; x4 = rotl(x4 ^ x8, 12);
    x0 = (x0 + x4) | 0; x12 = rotl(x12 ^ x0, 8); x8 = (x8 + x12) | 0; x4 = rotl(x4 ^ x8, 7);
    x1 = (x1 + x5) | 0; x13 = rotl(x13 ^ x1, 16); x9 = (x9 + x13) | 0; x5 = rotl(x5 ^ x9, 12);
    x1 = (x1 + x5) | 0; x13 = rotl(x13 ^ x1, 8); x9 = (x9 + x13) | 0; x5 = rotl(x5 ^ x9, 7);
    x2 = (x2 + x6) | 0; x14 = rotl(x14 ^ x2, 16); x10 = (x10 + x14) | 0; x6 = rotl(x6 ^ x10, 12);
    x2 = (x2 + x6) | 0; x14 = rotl(x14 ^ x2, 8); x10 = (x10 + x14) | 0; x6 = rotl(x6 ^ x10, 7);
    x3 = (x3 + x7) | 0; x15 = rotl(x15 ^ x3, 16); x11 = (x11 + x15) | 0; x7 = rotl(x7 ^ x11, 12);
    x3 = (x3 + x7) | 0; x15 = rotl(x15 ^ x3, 8); x11 = (x11 + x15) | 0; x7 = rotl(x7 ^ x11, 7);
    // Diagonal round.
    x0 = (x0 + x5) | 0; x15 = rotl(x15 ^ x0, 16); x10 = (x10 + x15) | 0; x5 = rotl(x5 ^ x10, 12);
    x0 = (x0 + x5) | 0; x15 = rotl(x15 ^ x0, 8); x10 = (x10 + x15) | 0; x5 = rotl(x5 ^ x10, 7);
    x1 = (x1 + x6) | 0; x12 = rotl(x12 ^ x1, 16); x11 = (x11 + x12) | 0; x6 = rotl(x6 ^ x11, 12);
    x1 = (x1 + x6) | 0; x12 = rotl(x12 ^ x1, 8); x11 = (x11 + x12) | 0; x6 = rotl(x6 ^ x11, 7);
    x2 = (x2 + x7) | 0; x13 = rotl(x13 ^ x2, 16); x8 = (x8 + x13) | 0; x7 = rotl(x7 ^ x8, 12);
    x2 = (x2 + x7) | 0; x13 = rotl(x13 ^ x2, 8); x8 = (x8 + x13) | 0; x7 = rotl(x7 ^ x8, 7);
    x3 = (x3 + x4) | 0; x14 = rotl(x14 ^ x3, 16); x9 = (x9 + x14) | 0; x4 = rotl(x4 ^ x9, 12);
    x3 = (x3 + x4) | 0; x14 = rotl(x14 ^ x3, 8); x9 = (x9 + x14) | 0; x4 = rotl(x4 ^ x9, 7);
  }

  const out = new Uint8Array(32);
  const words = [x0, x1, x2, x3, x12, x13, x14, x15];
  for (let w = 0; w < 8; w++) {
    const v = words[w]!;
    out[4 * w] = v & 0xff;
    out[4 * w + 1] = (v >>> 8) & 0xff;
    out[4 * w + 2] = (v >>> 16) & 0xff;
    out[4 * w + 3] = (v >>> 24) & 0xff;
  }
  words.fill(0); // the words are derived key material
  return out;
}
