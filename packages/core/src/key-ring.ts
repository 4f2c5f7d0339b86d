/**
 * Key versions (docs/key-rotation.md): the ciphertext frame of versions ≥ 2, the
 * stored records of versions and their settings, and `KeyRing`, the versions of one
 * key that encrypt, decrypt, generate and HMAC.
 *
 * Version 1 is the plain upstream key under its name; its ciphertexts keep upstream's
 * raw layout. A ciphertext of version N ≥ 2 is `MAGIC(4) ‖ N (uint32 BE) ‖ raw`, where
 * the raw part is sealed with version N's key and `header ‖ context` as associated
 * data, so a header cannot be relabelled.
 *
 * Every decryption failure is the one upstream error (`ERR_KES_DECRYPT`); the reason
 * (a retired or unknown version) is in the error's `cause`, for the server log only.
 */
import { Buffer } from 'node:buffer';
import { KesError } from './errors.js';
import { MasterKey } from './master-key.js';
import type { DataKey } from './master-key.js';

/** The first four bytes of a framed ciphertext. Neither `0x95` (MessagePack) nor `{` (JSON) first. */
export const KEY_VERSION_MAGIC: readonly number[] = Object.freeze([0x00, 0x4b, 0x56, 0x01]);
/** Bytes the frame adds to a ciphertext. */
export const KEY_VERSION_FRAME_SIZE = 8;
/** Largest version number (uint32). */
export const MAX_KEY_VERSION = 0xffff_ffff;
/** The label of `MasterKey.bindingTag` for version records. */
export const KEY_VERSION_BINDING_LABEL = 'kes-ts key version binding v1';
/** Smallest raw ciphertext: iv ‖ nonce plus at least one byte (crypto.ts). */
const MIN_RAW = 29;

/**
 * Reads a wire version: a decimal `1`…`4294967295`, optionally written `v2`.
 *
 * @returns the number, or `undefined` for anything else (`0`, signs, spaces, leading zeros, too large)
 * @example
 * parseKeyVersion('2'); // 2
 * parseKeyVersion('v3'); // 3
 * parseKeyVersion('0'); // undefined
 */
export function parseKeyVersion(text: string): number | undefined {
  const digits = text.startsWith('v') ? text.slice(1) : text;
  if (!/^[1-9][0-9]{0,9}$/.test(digits)) return undefined;
  const n = Number(digits);
  return n <= MAX_KEY_VERSION ? n : undefined;
}

/** The 8-byte frame header of version `version` (≥ 2). */
export function keyVersionHeader(version: number): Buffer {
  const h = Buffer.allocUnsafe(KEY_VERSION_FRAME_SIZE);
  h.set(KEY_VERSION_MAGIC, 0);
  h.writeUInt32BE(version, 4);
  return h;
}

/**
 * The version named by a ciphertext's frame, or `undefined` if it has none (every
 * upstream ciphertext). A raw version-1 ciphertext starts with the magic by chance
 * with probability 2^-32, so callers still fall back to version 1.
 */
export function frameVersionOf(ciphertext: Uint8Array): number | undefined {
  if (ciphertext.length < KEY_VERSION_FRAME_SIZE + MIN_RAW) return undefined;
  for (let i = 0; i < 4; i++) if (ciphertext[i] !== KEY_VERSION_MAGIC[i]) return undefined;
  const v = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength).readUInt32BE(4);
  return v >= 2 ? v : undefined;
}

function withHeader(header: Uint8Array, context: Uint8Array | undefined): Buffer {
  return context === undefined || context.length === 0 ? Buffer.from(header) : Buffer.concat([header, context]);
}

// --- Stored records ----------------------------------------------------------------

/** A version ≥ 2 as read from its record. */
export interface KeyVersionRecord {
  readonly version: number;
  /** `bindingTag(KEY_VERSION_BINDING_LABEL)` of the version 1 the record belongs to. */
  readonly binding: string;
  readonly key: MasterKey;
}

/** The settings of a key's versions (Vault's names). */
export interface KeyRingSettings {
  /** Versions below it are refused for decryption (and encryption). 1 = all. */
  readonly minDecryptionVersion: number;
  /** Versions below it may not be asked for on encryption. 0 = no limit. */
  readonly minEncryptionVersion: number;
  /** The version encryption uses when the request names none. 0 = the latest. */
  readonly encryptionVersion: number;
  /** The highest version ever created, so a deleted version's number is never reused. */
  readonly highestVersion: number;
}

/** Settings of a key that never changed them. */
export const DEFAULT_KEY_RING_SETTINGS: KeyRingSettings = Object.freeze({
  minDecryptionVersion: 1,
  minEncryptionVersion: 0,
  encryptionVersion: 0,
  highestVersion: 1,
});

function badRecord(why: string): KesError {
  return new KesError('ERR_KES_INVALID_KEY_ENCODING', [why]);
}

/**
 * The stored value of version `version`: JSON `{"version","binding","key"}`, where
 * `key` is the upstream stored form of the version's key (`MasterKey.encode()`).
 * The caller owns (and should wipe) the result.
 */
export function encodeKeyVersionRecord(version: number, key: MasterKey, binding: string): Uint8Array {
  const stored = key.encode();
  const text = `{"version":"${version}","binding":"${binding}","key":"${Buffer.from(stored).toString('latin1')}"}`;
  stored.fill(0);
  return Buffer.from(text, 'latin1');
}

/**
 * Reads a version record.
 *
 * @throws KesError `ERR_KES_INVALID_KEY_ENCODING` for anything malformed (never with key data)
 */
export function parseKeyVersionRecord(value: Uint8Array): KeyVersionRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'));
  } catch {
    throw badRecord('key version record is not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw badRecord('key version record is not an object');
  const { version, binding, key } = doc as Record<string, unknown>;
  const v = typeof version === 'string' ? parseKeyVersion(version) : undefined;
  if (v === undefined || v < 2) throw badRecord('key version record has an invalid version');
  if (typeof binding !== 'string' || !/^[0-9a-f]{32}$/.test(binding)) throw badRecord('key version record has an invalid binding');
  if (typeof key !== 'string') throw badRecord('key version record has no key');
  const bytes = Buffer.from(key, 'latin1');
  try {
    return { version: v, binding, key: MasterKey.parse(bytes) };
  } finally {
    bytes.fill(0);
  }
}

/**
 * The stored value of the version settings (JSON, versions as strings), with the
 * binding of the version 1 they belong to.
 */
export function encodeKeyRingSettings(s: KeyRingSettings, binding: string): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      binding,
      min_decryption_version: String(s.minDecryptionVersion),
      min_encryption_version: String(s.minEncryptionVersion),
      encryption_version: String(s.encryptionVersion),
      highest_version: String(s.highestVersion),
    }),
  );
}

/**
 * Reads version settings.
 *
 * @throws KesError `ERR_KES_INVALID_KEY_ENCODING` for anything malformed
 */
export function parseKeyRingSettings(value: Uint8Array): { settings: KeyRingSettings; binding: string | undefined } {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch {
    throw badRecord('key version settings are not JSON');
  }
  const num = (field: string, min: number): number => {
    const raw = doc[field];
    if (raw === undefined) return (DEFAULT_KEY_RING_SETTINGS as unknown as Record<string, number>)[camel(field)] ?? min;
    const n = raw === '0' ? 0 : typeof raw === 'string' ? parseKeyVersion(raw) : undefined;
    if (n === undefined || n < min) throw badRecord(`key version settings: invalid ${field}`);
    return n;
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRecord('key version settings are not an object');
  const binding = typeof doc.binding === 'string' ? doc.binding : undefined;
  const settings = {
    minDecryptionVersion: num('min_decryption_version', 1),
    minEncryptionVersion: num('min_encryption_version', 0),
    encryptionVersion: num('encryption_version', 0),
    highestVersion: num('highest_version', 1),
  };
  return { settings, binding };
}

function camel(field: string): string {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Checks new settings against the versions a ring has, the rules Vault uses: the
 * minimums are reversible, `minEncryptionVersion` is 0 or at least
 * `minDecryptionVersion`, a pinned `encryptionVersion` must exist and be allowed.
 *
 * @throws KesError `ERR_KES_INVALID_VERSION_CONFIG` naming the broken rule
 */
export function checkKeyRingSettings(s: KeyRingSettings, latest: number, has: (v: number) => boolean): void {
  const bad = (why: string): KesError => new KesError('ERR_KES_INVALID_VERSION_CONFIG', [why]);
  if (s.minDecryptionVersion < 1 || s.minDecryptionVersion > latest)
    throw bad(`min_decryption_version must be between 1 and the latest version (${latest})`);
  if (s.minEncryptionVersion !== 0 && s.minEncryptionVersion < s.minDecryptionVersion)
    throw bad('min_encryption_version must be 0 or at least min_decryption_version');
  if (s.minEncryptionVersion > latest) throw bad(`min_encryption_version must not be above the latest version (${latest})`);
  if (s.encryptionVersion !== 0) {
    if (!has(s.encryptionVersion)) throw bad('encryption_version names a version that does not exist');
    if (s.encryptionVersion < s.minDecryptionVersion || s.encryptionVersion < s.minEncryptionVersion)
      throw bad('encryption_version must not be below min_decryption_version or min_encryption_version');
  }
}

// --- The ring ------------------------------------------------------------------------

/** The versions of every ring that has none (shared: a cache of 100,000 keys holds no 100,000 empty maps). */
const NO_VERSIONS: ReadonlyMap<number, MasterKey> = new Map();

/** A version's use, as `/v1/key/versions` reports it. */
export type KeyVersionState = 'active' | 'decrypt-only' | 'disabled';

/** The outcome of `KeyRing.encrypt` / `generateDataKey`: which version was used. */
export interface VersionedCiphertext {
  readonly ciphertext: Uint8Array;
  readonly version: number;
}

/**
 * The versions of one key. Version 1 is `base`; `versions` holds 2 and up. The ring
 * owns its keys: `destroy()` zeroes every one.
 *
 * @example
 * const ring = KeyRing.of(MasterKey.parse(stored)); // a key never rotated
 * const { ciphertext } = ring.encrypt(plaintext, context); // upstream's raw layout
 */
export class KeyRing {
  readonly base: MasterKey;
  readonly settings: KeyRingSettings;
  /** The highest version present. */
  readonly latest: number;
  /** The highest version number ever seen (records, settings), for the next rotation. */
  readonly highestSeen: number;
  readonly #versions: ReadonlyMap<number, MasterKey>;

  constructor(
    base: MasterKey,
    versions: ReadonlyMap<number, MasterKey> = NO_VERSIONS,
    settings: KeyRingSettings = DEFAULT_KEY_RING_SETTINGS,
    highestSeen = 1,
  ) {
    this.base = base;
    this.#versions = versions.size === 0 ? NO_VERSIONS : versions;
    this.settings = settings;
    let latest = 1;
    for (const v of versions.keys()) if (v > latest) latest = v;
    this.latest = latest;
    this.highestSeen = Math.max(highestSeen, latest, settings.highestVersion);
  }

  /** The ring of a key that was never rotated. */
  static of(base: MasterKey): KeyRing {
    return new KeyRing(base);
  }

  /** True once the key has more than one version: only then do replies name a version. */
  get rotated(): boolean {
    return this.#versions.size > 0;
  }

  /** The number the next rotation creates. */
  get nextVersion(): number {
    return this.highestSeen + 1;
  }

  /** The key of `version`, if the ring has it. */
  key(version: number): MasterKey | undefined {
    return version === 1 ? this.base : this.#versions.get(version);
  }

  /** Every version present, ascending. */
  versions(): number[] {
    return [1, ...[...this.#versions.keys()].sort((a, b) => a - b)];
  }

  /** How `version` may be used. */
  state(version: number): KeyVersionState {
    const s = this.settings;
    if (version < s.minDecryptionVersion) return 'disabled';
    if (s.minEncryptionVersion !== 0 && version < s.minEncryptionVersion) return 'decrypt-only';
    return 'active';
  }

  /** The version encryption uses when the request names none. */
  get encryptionDefault(): number {
    const pinned = this.settings.encryptionVersion;
    return pinned !== 0 && this.key(pinned) !== undefined ? pinned : this.latest;
  }

  /**
   * The version to encrypt with: `requested`, or the default.
   *
   * @throws KesError `ERR_KES_VERSION_NOT_FOUND` if the ring lacks `requested`,
   *   `ERR_KES_VERSION_NOT_ALLOWED` if it is retired for encryption
   */
  encryptionVersion(requested?: number): number {
    const v = requested ?? this.encryptionDefault;
    if (this.key(v) === undefined) throw new KesError('ERR_KES_VERSION_NOT_FOUND');
    if (this.state(v) !== 'active') throw new KesError('ERR_KES_VERSION_NOT_ALLOWED');
    return v;
  }

  /**
   * Encrypts with `version` (default: the encryption default). Version 1 gives
   * upstream's raw layout, later versions the framed one.
   */
  encrypt(plaintext: Uint8Array, context?: Uint8Array, version?: number): VersionedCiphertext {
    if (version === undefined && this.#versions.size === 0) return { ciphertext: this.base.encrypt(plaintext, context), version: 1 };
    const v = this.encryptionVersion(version);
    const key = this.key(v) as MasterKey;
    if (v === 1) return { ciphertext: key.encrypt(plaintext, context), version: 1 };
    const header = keyVersionHeader(v);
    const ad = withHeader(header, context);
    const raw = key.encrypt(plaintext, ad);
    return { ciphertext: Buffer.concat([header, raw]), version: v };
  }

  /** A data key sealed with `version` (default: the encryption default). */
  generateDataKey(context?: Uint8Array, version?: number): DataKey & { version: number } {
    if (version === undefined && this.#versions.size === 0) {
      const dk = this.base.generateDataKey(context) as DataKey & { version: number };
      dk.version = 1;
      return dk;
    }
    const v = this.encryptionVersion(version);
    const key = this.key(v) as MasterKey;
    if (v === 1) return { ...key.generateDataKey(context), version: 1 };
    const header = keyVersionHeader(v);
    const dk = key.generateDataKey(withHeader(header, context));
    return { plaintext: dk.plaintext, ciphertext: Buffer.concat([header, dk.ciphertext]), version: v };
  }

  /**
   * The framed version a ciphertext names that this ring does not hold (a version
   * created by another server since the ring was loaded), or `undefined`.
   */
  unknownVersionIn(ciphertext: Uint8Array): number | undefined {
    const v = frameVersionOf(ciphertext);
    return v !== undefined && v > this.latest && this.key(v) === undefined ? v : undefined;
  }

  /**
   * Decrypts: tries the `hint` version, then the frame's version, then version 1 with
   * upstream's formats. Retired (below `minDecryptionVersion`) and absent versions are
   * never tried.
   *
   * @throws KesError `ERR_KES_DECRYPT` for every failure; its `cause` says why (logs only)
   */
  decrypt(ciphertext: Uint8Array, context?: Uint8Array, hint?: number): { plaintext: Uint8Array; version: number } {
    const framed = frameVersionOf(ciphertext);
    const order: number[] = [];
    for (const v of [hint, framed, 1]) if (v !== undefined && !order.includes(v)) order.push(v);
    const skipped: string[] = [];
    for (const v of order) {
      if (v < this.settings.minDecryptionVersion) {
        skipped.push(`version ${v} is below min_decryption_version`);
        continue;
      }
      const key = this.key(v);
      if (key === undefined) {
        skipped.push(`version ${v} does not exist`);
        continue;
      }
      let pt: Uint8Array | undefined;
      if (v === 1) pt = key.open(ciphertext, context);
      else if (framed === v) {
        const header = ciphertext.subarray(0, KEY_VERSION_FRAME_SIZE);
        pt = key.open(ciphertext.subarray(KEY_VERSION_FRAME_SIZE), withHeader(header, context));
      }
      if (pt !== undefined) return { plaintext: pt, version: v };
    }
    const why = skipped.length > 0 ? skipped.join('; ') : 'no version authenticates the ciphertext';
    throw new KesError('ERR_KES_DECRYPT', [], { cause: new Error(why) });
  }

  /**
   * HMAC under `version`'s HMAC key; the default is version 1, so MACs (and what MinIO
   * derives from them) never change when the key is rotated.
   *
   * @throws KesError `ERR_KES_VERSION_NOT_FOUND`, `ERR_KES_VERSION_NOT_ALLOWED` (below
   *   `minDecryptionVersion`), `ERR_KES_HMAC_NOT_SUPPORTED` (legacy version 1)
   */
  hmac(message: Uint8Array, version = 1): Uint8Array {
    const key = this.key(version);
    if (key === undefined) throw new KesError('ERR_KES_VERSION_NOT_FOUND');
    if (version !== 1 && version < this.settings.minDecryptionVersion) throw new KesError('ERR_KES_VERSION_NOT_ALLOWED');
    return key.hmac(message);
  }

  /** Zeroes every key of the ring. Idempotent. */
  destroy(): void {
    this.base.destroy();
    for (const k of this.#versions.values()) k.destroy();
  }

  /**
   * A new ring with the same keys plus `key` as `version`. The new ring owns every key
   * from then on: drop this one without destroying it.
   */
  withVersion(version: number, key: MasterKey): KeyRing {
    const versions = new Map(this.#versions);
    versions.set(version, key);
    return new KeyRing(this.base, versions, this.settings, this.highestSeen);
  }

  /** A new ring with the same keys and other settings (the keys stay shared; destroy only one of the two). */
  withSettings(settings: KeyRingSettings): KeyRing {
    return new KeyRing(this.base, this.#versions, settings, this.highestSeen);
  }
}
