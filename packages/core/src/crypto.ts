/**
 * KES ciphertext construction and formats (kes-protocol.md §7).
 *
 * Encryption (§7.2) always writes the raw format
 * `AEAD(MK, nonce, plaintext, ad) ‖ iv(16) ‖ nonce(12)` where the per-message key MK is
 * HMAC-SHA256(K, iv) for AES256 (→ AES-256-GCM) and HChaCha20(K, iv) for ChaCha20
 * (→ IETF ChaCha20-Poly1305). Decryption (§7.5) also accepts the legacy MessagePack
 * and JSON formats and silently falls back to raw when they do not parse.
 *
 * Threat note: every decryption failure — short input, bad tag, wrong associated data,
 * wrong key, malformed structure — ends in the one `ERR_KES_DECRYPT` error, thrown from
 * a single place with no cause, so a caller cannot tell the reasons apart (no oracle).
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { KesError } from './errors.js';
import { decodeBase64Strict } from './base64.js';
import { hchacha20Block } from './internal/chacha.js';
import { fillRandom } from './internal/random-pool.js';
import { GoJsonSyntaxError, isJsonObject, jsonText, lookupField, readWholeValue } from './internal/go-json-reader.js';
import { parseMsgpackCiphertext } from './internal/msgpack.js';
import type { LegacyCiphertext } from './internal/msgpack.js';

/** The two secret-key types of KES. */
export type KeyAlgorithm = 'AES256' | 'ChaCha20';

/** Every supported key algorithm, in KES enum order (1 = AES256, 2 = ChaCha20). */
export const ALGORITHMS: readonly KeyAlgorithm[] = Object.freeze(['AES256', 'ChaCha20'] as const);

/**
 * Maps an algorithm name to its key type: `AES256` and `AES256-GCM_SHA256` → `AES256`,
 * `ChaCha20` and `XCHACHA20-POLY1305` → `ChaCha20` (exact spelling, case-sensitive).
 *
 * @returns the algorithm, or `undefined` for any other text.
 * @example
 * parseAlgorithm('XCHACHA20-POLY1305'); // 'ChaCha20'
 */
export function parseAlgorithm(text: string): KeyAlgorithm | undefined {
  switch (text) {
    case 'AES256':
    case 'AES256-GCM_SHA256':
      return 'AES256';
    case 'ChaCha20':
    case 'XCHACHA20-POLY1305':
      return 'ChaCha20';
    default:
      return undefined;
  }
}

/** Bytes of iv ‖ nonce drawn per encryption. */
export const RANDOMNESS_SIZE = 28;
/** Bytes a raw ciphertext adds to its plaintext: tag(16) + iv(16) + nonce(12). */
const CIPHERTEXT_OVERHEAD = 44;
const TAG_SIZE = 16;
const IV_SIZE = 16;

/** Per-message key MK (§7.2). The caller zeroes it after use. */
function messageKey(alg: KeyAlgorithm, key: Uint8Array, iv: Uint8Array): Uint8Array {
  return alg === 'AES256' ? createHmac('sha256', key).update(iv).digest() : hchacha20Block(key, iv);
}

/**
 * Seals `plaintext` in the raw format (§7.2). `randomness` (28 bytes: iv ‖ nonce) is
 * drawn from the CSPRNG unless given (tests only). Key and algorithm are not checked
 * here; MasterKey guarantees them.
 */
export function sealRaw(alg: KeyAlgorithm, key: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array, randomness?: Uint8Array): Buffer {
  const n = plaintext.length;
  const out = Buffer.allocUnsafe(n + CIPHERTEXT_OVERHEAD);
  const tail = out.subarray(n + TAG_SIZE); // iv ‖ nonce, written in place
  if (randomness === undefined) fillRandom(tail);
  else tail.set(randomness);
  const iv = tail.subarray(0, IV_SIZE);
  const nonce = tail.subarray(IV_SIZE);
  const mk = messageKey(alg, key, iv);
  try {
    const cipher =
      alg === 'AES256'
        ? createCipheriv('aes-256-gcm', mk, nonce, { authTagLength: TAG_SIZE })
        : createCipheriv('chacha20-poly1305', mk, nonce, { authTagLength: TAG_SIZE });
    if (associatedData !== undefined && associatedData.length > 0) cipher.setAAD(associatedData);
    const ct = cipher.update(plaintext);
    cipher.final();
    out.set(ct, 0);
    out.set(cipher.getAuthTag(), n);
    ct.fill(0);
    return out;
  } finally {
    mk.fill(0);
  }
}

/** AEAD-open `sealed` (ciphertext ‖ tag); `undefined` on any failure. */
function openParts(
  alg: KeyAlgorithm,
  key: Uint8Array,
  sealed: Uint8Array,
  iv: Uint8Array,
  nonce: Uint8Array,
  associatedData: Uint8Array | undefined,
): Buffer | undefined {
  if (sealed.length < TAG_SIZE) return undefined;
  const ctLen = sealed.length - TAG_SIZE;
  const mk = messageKey(alg, key, iv);
  try {
    const decipher =
      alg === 'AES256'
        ? createDecipheriv('aes-256-gcm', mk, nonce, { authTagLength: TAG_SIZE })
        : createDecipheriv('chacha20-poly1305', mk, nonce, { authTagLength: TAG_SIZE });
    decipher.setAuthTag(sealed.subarray(ctLen));
    if (associatedData !== undefined && associatedData.length > 0) decipher.setAAD(associatedData);
    const pt = decipher.update(sealed.subarray(0, ctLen));
    try {
      decipher.final();
    } catch {
      pt.fill(0); // unauthenticated plaintext must not survive
      return undefined;
    }
    return pt;
  } catch {
    return undefined;
  } finally {
    mk.fill(0);
  }
}

/** Algorithm names the legacy JSON format may carry (`AES-256-GCM`, ≤ v0.6.0, is not one). */
function isJsonAead(name: unknown): boolean {
  return name === 'AES-256-GCM-HMAC-SHA-256' || name === 'ChaCha20Poly1305';
}

/** Parses the legacy JSON ciphertext with Go `json.Unmarshal` rules; `undefined` on any error. */
function parseJsonCiphertext(b: Uint8Array): LegacyCiphertext | undefined {
  let doc: unknown;
  try {
    doc = readWholeValue(jsonText(b));
  } catch (e) {
    if (e instanceof GoJsonSyntaxError) return undefined;
    throw e;
  }
  if (!isJsonObject(doc)) return undefined;
  const field = (name: string): unknown => {
    const v = lookupField(doc, name);
    return v === null ? undefined : v;
  };
  const aead = field('aead');
  const id = field('id');
  if (aead !== undefined && typeof aead !== 'string') return undefined;
  if (id !== undefined && typeof id !== 'string') return undefined;
  const bytes = (name: string): Uint8Array | undefined => {
    const v = field(name);
    if (v === undefined) return new Uint8Array(0);
    if (typeof v !== 'string') return undefined;
    try {
      return decodeBase64Strict(v);
    } catch {
      return undefined;
    }
  };
  const iv = bytes('iv');
  const nonce = bytes('nonce');
  const sealed = bytes('bytes');
  if (iv === undefined || nonce === undefined || sealed === undefined) return undefined;
  if (!isJsonAead(aead) || iv.length !== 16 || nonce.length !== 12) return undefined;
  return { algorithm: aead as string, sealed, iv, nonce };
}

/**
 * Opens a ciphertext in any accepted format (§7.5) with the stored key's type `alg`
 * (the algorithm and key id inside legacy formats are checked for syntax only).
 *
 * @returns the plaintext, or `undefined` for ANY failure (callers throw `ERR_KES_DECRYPT`).
 */
export function openCiphertext(alg: KeyAlgorithm, key: Uint8Array, ciphertext: Uint8Array, associatedData?: Uint8Array): Buffer | undefined {
  const first = ciphertext[0];
  let legacy: LegacyCiphertext | undefined;
  if (first === 0x95) {
    legacy = parseMsgpackCiphertext(ciphertext);
    if (legacy !== undefined && parseAlgorithm(legacy.algorithm) === undefined) legacy = undefined;
  } else if (first === 0x7b) {
    legacy = parseJsonCiphertext(ciphertext);
  }
  if (legacy !== undefined) {
    // KES rebuilds `bytes ‖ iv ‖ nonce` and applies the raw rules; parts are equivalent.
    return openParts(alg, key, legacy.sealed, legacy.iv, legacy.nonce, associatedData);
  }
  // Raw: strictly more than iv ‖ nonce.
  if (ciphertext.length <= RANDOMNESS_SIZE) return undefined;
  const n = ciphertext.length - RANDOMNESS_SIZE;
  return openParts(alg, key, ciphertext.subarray(0, n), ciphertext.subarray(n, n + IV_SIZE), ciphertext.subarray(n + IV_SIZE), associatedData);
}

/**
 * Decrypts a ciphertext in any accepted format with key `key` of type `alg`.
 *
 * @throws KesError `ERR_KES_DECRYPT` (`decryption failed: ciphertext is not authentic`) for every failure.
 */
export function decryptCiphertext(alg: KeyAlgorithm, key: Uint8Array, ciphertext: Uint8Array, associatedData?: Uint8Array): Buffer {
  const pt = openCiphertext(alg, key, ciphertext, associatedData);
  if (pt === undefined) throw new KesError('ERR_KES_DECRYPT');
  return pt;
}
