/**
 * Master keys and their stored form (kes-protocol.md §7, §8; kes-config-cli-keystores.md §4.1).
 *
 * A `MasterKey` holds a 32-byte secret key of type AES256 or ChaCha20, optionally a
 * separate 32-byte HMAC-SHA256 key (absent for legacy JSON-stored keys), a creation
 * time and the identity that created it. It encrypts, decrypts, generates data keys
 * and computes HMACs; `encode()` produces the value stored in a keystore (standard
 * base64 of the protobuf `KeyVersion`), `parse()` reads all five stored shapes.
 *
 * Threat note: key bytes live only in `#private` fields, are copied in (callers
 * cannot mutate them afterwards) and never appear in `toString`, `toJSON`,
 * `util.inspect` or error messages; `destroy()` zeroes them.
 *
 * Length (~430 lines): one class whose methods share the private key fields; the
 * byte formats it reads and writes live in crypto.ts and internal/.
 */
import { Buffer } from 'node:buffer';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { KesError } from './errors.js';
import { decodeBase64Strict } from './base64.js';
import { formatTimestamp, parseTimestamp } from './timestamp.js';
import type { Timestamp } from './timestamp.js';
import { ALGORITHMS, decryptCiphertext, openCiphertext, parseAlgorithm, RANDOMNESS_SIZE, sealRaw } from './crypto.js';
import type { KeyAlgorithm } from './crypto.js';
import { GoJsonSyntaxError, isJsonObject, jsonText, lookupField, readWholeValue } from './internal/go-json-reader.js';
import { assertBytes } from './internal/assert-bytes.js';
import { randomBuffer } from './internal/random-pool.js';
import { decodeKeyVersion, encodeKeyVersion, ProtobufError } from './internal/protobuf.js';

/** Options for creating a key. */
export interface MasterKeyInit {
  /** Key type; default `'AES256'`. Ignored by `MasterKey.import` (the cipher decides). */
  algorithm?: KeyAlgorithm;
  /** Identity of the creator (`created_by`); default empty. */
  createdBy?: string;
  /** Creation time; default now. */
  now?: Date;
}

/** A freshly generated data-encryption key: its plaintext and its ciphertext under the master key. */
export interface DataKey {
  /** 32 random bytes. Zero them when done. */
  plaintext: Uint8Array;
  /** The plaintext sealed in the raw format: 76 bytes. */
  ciphertext: Uint8Array;
}

/** The exact parts of a key, for `MasterKey.fromParts` (tests, migration tools). */
export interface MasterKeyParts {
  key: Uint8Array;
  algorithm: KeyAlgorithm;
  /** The HMAC key; absent for legacy keys. */
  hmacKey?: Uint8Array | undefined;
  /** Creation time; `utcOffsetMinutes` (default 0) is the zone it is reported in. */
  createdAt: Timestamp & { readonly utcOffsetMinutes?: number };
  createdBy: string;
}

const KEY_SIZE = 32;
/** Go's zero `time.Time` (0001-01-01T00:00:00Z): the created_at of legacy keys that have none. */
const GO_ZERO_TIME: Timestamp = Object.freeze({ seconds: -62135596800, nanos: 0 });
/** protobuf enum values (§8.1). */
const KEY_TYPE: Readonly<Record<KeyAlgorithm, number>> = { AES256: 1, ChaCha20: 2 };
const HASH_SHA256 = 1;

function invalidEncoding(reason: string): KesError {
  return new KesError('ERR_KES_INVALID_KEY_ENCODING', [reason]);
}

/**
 * The `created_by` texts of keys, shared: a cache of 100,000 keys made by a handful of
 * identities holds a handful of strings, not 100,000 copies. Bounded; identities are public.
 */
const createdByTexts = new Map<string, string>();
const MAX_CREATED_BY_TEXTS = 1024;

function sharedCreatedBy(text: string): string {
  const hit = createdByTexts.get(text);
  if (hit !== undefined) return hit;
  if (createdByTexts.size < MAX_CREATED_BY_TEXTS) createdByTexts.set(text, text);
  return text;
}

function timestampOf(d: Date): Timestamp {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid creation time']);
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * A KES master key (one stored key version).
 *
 * @example
 * const key = MasterKey.generate({ createdBy: identity });
 * const stored = key.encode();                    // write to the keystore
 * const ct = key.encrypt(plaintext, context);
 * MasterKey.parse(stored).decrypt(ct, context);   // → plaintext
 */
export class MasterKey {
  /**
   * The secret key (bytes 0–31), then the HMAC key (32–63) if the key has one (legacy
   * keys have none: 32 bytes). One allocation per key: a cache may hold 100,000 keys, and
   * each typed array costs about 200 bytes of heap beyond its data.
   */
  readonly #material: Uint8Array;
  /** View of the secret key, made on first use: only keys that are used pay for it, once. */
  #key: Uint8Array | undefined;
  readonly #algorithm: KeyAlgorithm;
  readonly #createdSeconds: number;
  readonly #createdNanos: number;
  readonly #utcOffsetMinutes: number;
  readonly #createdBy: string;
  #destroyed = false;

  /** Copies `key` and `hmacKey` into the key's own storage; callers wipe their bytes. */
  private constructor(
    key: Uint8Array,
    algorithm: KeyAlgorithm,
    hmacKey: Uint8Array | undefined,
    createdAt: Timestamp,
    utcOffsetMinutes: number,
    createdBy: string,
  ) {
    const material = new Uint8Array(hmacKey === undefined ? KEY_SIZE : 2 * KEY_SIZE);
    material.set(key);
    if (hmacKey !== undefined) material.set(hmacKey, KEY_SIZE);
    this.#material = material;
    this.#algorithm = algorithm;
    this.#createdSeconds = createdAt.seconds;
    this.#createdNanos = createdAt.nanos;
    this.#utcOffsetMinutes = utcOffsetMinutes;
    this.#createdBy = sharedCreatedBy(createdBy);
  }

  /**
   * Creates a new key: 32 random key bytes and an independent random 32-byte HMAC key.
   *
   * @throws KesError `ERR_KES_UNSUPPORTED_ALGORITHM` for an unknown `init.algorithm`,
   *   `ERR_KES_INVALID_ARGUMENT` for an invalid `init.now`.
   * @example
   * MasterKey.generate({ algorithm: 'ChaCha20', createdBy: 'a1b2…' });
   */
  static generate(init: MasterKeyInit = {}): MasterKey {
    const algorithm = init.algorithm ?? 'AES256';
    if (!ALGORITHMS.includes(algorithm)) throw new KesError('ERR_KES_UNSUPPORTED_ALGORITHM', [String(algorithm)]);
    const createdAt = timestampOf(init.now ?? new Date());
    const fresh = randomBytes(2 * KEY_SIZE);
    try {
      return new MasterKey(fresh.subarray(0, KEY_SIZE), algorithm, fresh.subarray(KEY_SIZE), createdAt, 0, init.createdBy ?? '');
    } finally {
      fresh.fill(0);
    }
  }

  /**
   * Creates a key from imported key bytes (`/v1/key/import`), with a fresh random HMAC
   * key. Checks, in this order: the cipher name (`AES256`, `AES256-GCM_SHA256`,
   * `ChaCha20`, `XCHACHA20-POLY1305`), then the key length (32).
   *
   * @throws KesError `ERR_KES_UNSUPPORTED_ALGORITHM` (`algorithm '<cipher>' is not supported`),
   *   `ERR_KES_INVALID_KEY_SIZE` (`invalid key size for '<cipher>'`).
   * @example
   * MasterKey.import(bytes32, 'AES256', { createdBy: identity });
   */
  static import(key: Uint8Array, cipher: string, init: MasterKeyInit = {}): MasterKey {
    const algorithm = parseAlgorithm(cipher);
    if (algorithm === undefined) throw new KesError('ERR_KES_UNSUPPORTED_ALGORITHM', [cipher]);
    if (key.length !== KEY_SIZE) throw new KesError('ERR_KES_INVALID_KEY_SIZE', [cipher]);
    const createdAt = timestampOf(init.now ?? new Date());
    const hmacKey = randomBytes(KEY_SIZE);
    try {
      return new MasterKey(key, algorithm, hmacKey, createdAt, 0, init.createdBy ?? '');
    } finally {
      hmacKey.fill(0);
    }
  }

  /**
   * Builds a key from exact parts (tests, tools). Bytes are copied.
   *
   * @throws KesError `ERR_KES_INVALID_ARGUMENT` if `key` (or `hmacKey`) is not 32 bytes,
   *   `ERR_KES_UNSUPPORTED_ALGORITHM` for an unknown algorithm.
   * @example
   * MasterKey.fromParts({ key, algorithm: 'AES256', hmacKey, createdAt: { seconds: 0, nanos: 0 }, createdBy: '' });
   */
  static fromParts(parts: MasterKeyParts): MasterKey {
    const { key, algorithm, hmacKey, createdAt, createdBy } = parts;
    assertBytes(key, KEY_SIZE, 'key');
    if (hmacKey !== undefined) assertBytes(hmacKey, KEY_SIZE, 'hmacKey');
    if (!ALGORITHMS.includes(algorithm)) throw new KesError('ERR_KES_UNSUPPORTED_ALGORITHM', [String(algorithm)]);
    return new MasterKey(key, algorithm, hmacKey, createdAt, createdAt.utcOffsetMinutes ?? 0, createdBy);
  }

  /**
   * Reads a stored key value (§8): valid JSON is a legacy key (`{"bytes":…}` with
   * optional `algorithm`, `created_at`, `created_by`, `version`; no HMAC key);
   * anything else must be standard base64 of a protobuf `KeyVersion`.
   *
   * @throws KesError `ERR_KES_INVALID_KEY_ENCODING` (`invalid key encoding: <reason>`); the reason never contains key data.
   * @example
   * const key = MasterKey.parse(await store.get(name));
   */
  static parse(stored: Uint8Array | string): MasterKey {
    const text = jsonText(stored);
    let doc: unknown;
    let isJson = true;
    try {
      doc = readWholeValue(text);
    } catch (e) {
      if (!(e instanceof GoJsonSyntaxError)) throw e;
      isJson = false;
    }
    return isJson ? MasterKey.#parseLegacy(doc) : MasterKey.#parseProtobuf(text);
  }

  static #parseLegacy(doc: unknown): MasterKey {
    // Go json.Unmarshal into a struct: `null` is a no-op, other non-objects are type errors.
    if (doc !== null && !isJsonObject(doc)) throw invalidEncoding('legacy key is not a JSON object');
    const field = (name: string): unknown => {
      if (doc === null) return undefined;
      const v = lookupField(doc as Record<string, unknown>, name);
      return v === null ? undefined : v;
    };
    const bytes = field('bytes');
    if (bytes !== undefined && typeof bytes !== 'string') throw invalidEncoding('legacy key bytes are not a string');
    let key: Uint8Array;
    try {
      key = bytes === undefined ? new Uint8Array(0) : decodeBase64Strict(bytes);
    } catch {
      throw invalidEncoding('legacy key bytes are not valid base64');
    }
    if (key.length !== KEY_SIZE) {
      key.fill(0);
      throw invalidEncoding(`legacy key must be ${KEY_SIZE} bytes, got ${key.length}`);
    }
    try {
      const alg = field('algorithm');
      if (alg !== undefined && typeof alg !== 'string') throw invalidEncoding('legacy key algorithm is not a string');
      const algorithm = alg === undefined || alg === '' ? 'AES256' : parseAlgorithm(alg);
      if (algorithm === undefined) throw invalidEncoding('unknown legacy key algorithm');
      const created = field('created_at');
      let createdAt: Timestamp = GO_ZERO_TIME;
      let offset = 0;
      if (created !== undefined) {
        if (typeof created !== 'string') throw invalidEncoding('legacy key created_at is not a string');
        try {
          const t = parseTimestamp(created);
          createdAt = t;
          offset = t.utcOffsetMinutes;
        } catch {
          throw invalidEncoding('legacy key created_at is not an RFC 3339 time');
        }
      }
      const by = field('created_by');
      if (by !== undefined && typeof by !== 'string') throw invalidEncoding('legacy key created_by is not a string');
      return new MasterKey(key, algorithm, undefined, createdAt, offset, by ?? '');
    } finally {
      key.fill(0); // the decoded buffer may be a slice of Node's shared pool
    }
  }

  static #parseProtobuf(text: string): MasterKey {
    let raw: Uint8Array;
    try {
      raw = decodeBase64Strict(text);
    } catch {
      throw invalidEncoding('not valid JSON or base64');
    }
    try {
      let msg;
      try {
        msg = decodeKeyVersion(raw);
      } catch (e) {
        if (e instanceof ProtobufError) throw invalidEncoding(`malformed protobuf: ${e.message}`);
        throw e;
      }
      const sk = msg.key;
      if (sk === undefined || sk.key.length !== KEY_SIZE) throw invalidEncoding(`secret key must be ${KEY_SIZE} bytes`);
      const algorithm = sk.type === 1 ? 'AES256' : sk.type === 2 ? 'ChaCha20' : undefined;
      if (algorithm === undefined) throw invalidEncoding(`unknown secret key type ${sk.type}`);
      const hk = msg.hmacKey;
      if (hk === undefined || hk.key.length !== KEY_SIZE) throw invalidEncoding(`HMAC key must be ${KEY_SIZE} bytes`);
      if (hk.hash !== HASH_SHA256) throw invalidEncoding(`unknown HMAC hash ${hk.hash}`);
      return new MasterKey(sk.key, algorithm, hk.key, msg.createdAt ?? { seconds: 0, nanos: 0 }, 0, msg.createdBy);
    } finally {
      raw.fill(0);
    }
  }

  /** The key type. */
  get algorithm(): KeyAlgorithm {
    return this.#algorithm;
  }

  /** Creation time (seconds/nanos since the Unix epoch). */
  get createdAt(): Timestamp {
    return this.#created();
  }

  /**
   * UTC offset (minutes) the creation time was recorded with: 0 except for legacy JSON
   * keys whose `created_at` carried a zone; pass it to `formatTimestamp` to render
   * `created_at` the way Go does.
   */
  get createdAtUtcOffsetMinutes(): number {
    return this.#utcOffsetMinutes;
  }

  /** Identity that created the key (empty for legacy keys without one). */
  get createdBy(): string {
    return this.#createdBy;
  }

  /** False for legacy JSON-stored keys, which cannot compute HMACs. */
  get hasHmac(): boolean {
    return this.#material.length > KEY_SIZE;
  }

  /**
   * Legacy key id embedded in old ciphertexts: lowercase hex of the first 16 bytes of
   * SHA-256(key) (§7.4). Not secret (a one-way function of the key).
   *
   * @throws KesError `ERR_KES_INTERNAL` if the key was destroyed.
   */
  get legacyKeyId(): string {
    return createHash('sha256').update(this.#use()).digest().subarray(0, 16).toString('hex');
  }

  /**
   * The stored form (§8.1): ASCII bytes of the standard base64 of the protobuf
   * `KeyVersion`, byte-identical to Go's encoder.
   *
   * @throws KesError `ERR_KES_INVALID_KEY_ENCODING` for a key without HMAC key (legacy keys are never rewritten),
   *   `ERR_KES_INTERNAL` if the key was destroyed.
   */
  encode(): Uint8Array {
    const key = this.#use();
    if (!this.hasHmac) throw invalidEncoding('key has no HMAC key');
    const pb = encodeKeyVersion({
      key: { key, type: KEY_TYPE[this.#algorithm] },
      hmacKey: { key: this.#material.subarray(KEY_SIZE), hash: HASH_SHA256 },
      createdAt: this.#created(),
      createdBy: this.#createdBy,
    });
    const out = Buffer.from(Buffer.from(pb.buffer, pb.byteOffset, pb.byteLength).toString('base64'), 'latin1');
    pb.fill(0);
    return out;
  }

  /**
   * Encrypts `plaintext` in the raw format (§7.2): output is `plaintext.length + 44` bytes.
   * `associatedData` (the request `context`) must be given again to decrypt; absent and
   * empty are the same. `randomness` (28 bytes: iv ‖ nonce) is for known-answer tests only.
   *
   * @throws KesError `ERR_KES_INVALID_ARGUMENT` if `randomness` is not 28 bytes,
   *   `ERR_KES_INTERNAL` if the key was destroyed.
   * @example
   * const ct = key.encrypt(new TextEncoder().encode('hello'), context);
   */
  encrypt(plaintext: Uint8Array, associatedData?: Uint8Array, randomness?: Uint8Array): Uint8Array {
    const key = this.#use();
    if (randomness !== undefined) assertBytes(randomness, RANDOMNESS_SIZE, 'randomness');
    return sealRaw(this.#algorithm, key, plaintext, associatedData, randomness);
  }

  /**
   * Decrypts a ciphertext in any accepted format (raw, MessagePack, legacy JSON; §7.5)
   * using this key's type.
   *
   * @throws KesError `ERR_KES_DECRYPT` (`decryption failed: ciphertext is not authentic`) for every
   *   failure, whatever the reason; `ERR_KES_INTERNAL` if the key was destroyed (a programming error).
   * @example
   * const pt = key.decrypt(ct, context);
   */
  decrypt(ciphertext: Uint8Array, associatedData?: Uint8Array): Uint8Array {
    return decryptCiphertext(this.#algorithm, this.#use(), ciphertext, associatedData);
  }

  /**
   * Like {@link decrypt}, but answers `undefined` instead of throwing when the ciphertext
   * does not authenticate (for trying several key versions without exceptions).
   *
   * @throws KesError `ERR_KES_INTERNAL` if the key was destroyed.
   */
  open(ciphertext: Uint8Array, associatedData?: Uint8Array): Uint8Array | undefined {
    return openCiphertext(this.#algorithm, this.#use(), ciphertext, associatedData);
  }

  /**
   * A public tag that identifies this key's material without revealing it: lowercase hex
   * of the first 16 bytes of HMAC-SHA256(secret key, `label`). Key versions ≥ 2 record the
   * tag of version 1 to detect records left behind by a delete and re-create.
   *
   * @throws KesError `ERR_KES_INTERNAL` if the key was destroyed.
   */
  bindingTag(label: string): string {
    return createHmac('sha256', this.#use()).update(label).digest().subarray(0, 16).toString('hex');
  }

  /**
   * Generates a data key: 32 random bytes and their ciphertext (76 bytes) under this key.
   *
   * @throws KesError `ERR_KES_INTERNAL` if the key was destroyed.
   * @example
   * const { plaintext, ciphertext } = key.generateDataKey(context);
   */
  generateDataKey(associatedData?: Uint8Array): DataKey {
    const key = this.#use();
    const plaintext = randomBuffer(KEY_SIZE);
    return { plaintext, ciphertext: sealRaw(this.#algorithm, key, plaintext, associatedData) };
  }

  /**
   * HMAC-SHA256 of `message` under the key's separate HMAC key (§7.6).
   *
   * @throws KesError `ERR_KES_HMAC_NOT_SUPPORTED` (`key does not support HMAC`) for legacy keys,
   *   `ERR_KES_INTERNAL` if the key was destroyed.
   * @example
   * const mac = key.hmac(message); // 32 bytes; compare with crypto.timingSafeEqual
   */
  hmac(message: Uint8Array): Uint8Array {
    this.#use();
    if (!this.hasHmac) throw new KesError('ERR_KES_HMAC_NOT_SUPPORTED');
    return createHmac('sha256', this.#material.subarray(KEY_SIZE)).update(message).digest();
  }

  /** Zeroes the key bytes; every later use throws `ERR_KES_INTERNAL`. Idempotent. */
  destroy(): void {
    this.#material.fill(0);
    this.#destroyed = true;
  }

  /** True after `destroy()`. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  #use(): Uint8Array {
    if (this.#destroyed) throw new KesError('ERR_KES_INTERNAL', [], { cause: new Error('master key was destroyed') });
    this.#key ??= this.hasHmac ? this.#material.subarray(0, KEY_SIZE) : this.#material;
    return this.#key;
  }

  #created(): Timestamp {
    return Object.freeze({ seconds: this.#createdSeconds, nanos: this.#createdNanos });
  }

  /** A redacted description (no key material). */
  #describe(): { algorithm: KeyAlgorithm; createdAt: string; createdBy: string; hasHmac: boolean; key: '[redacted]' } {
    let createdAt: string;
    try {
      createdAt = formatTimestamp(this.#created(), this.#utcOffsetMinutes);
    } catch {
      createdAt = `${this.#createdSeconds}s`;
    }
    return { algorithm: this.#algorithm, createdAt, createdBy: this.#createdBy, hasHmac: this.hasHmac, key: '[redacted]' };
  }

  /** JSON form without key material. */
  toJSON(): object {
    return this.#describe();
  }

  /** String form without key material. */
  toString(): string {
    const d = this.#describe();
    return `MasterKey(${d.algorithm}, created ${d.createdAt}${d.createdBy ? ` by ${d.createdBy}` : ''}, [redacted])`;
  }

  get [Symbol.toStringTag](): string {
    return 'MasterKey';
  }

  /** `util.inspect` / `console.log` form without key material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
