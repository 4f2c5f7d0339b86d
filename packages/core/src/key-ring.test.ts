import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { type KesError, isKesError } from './errors.js';
import {
  DEFAULT_KEY_RING_SETTINGS,
  KEY_VERSION_BINDING_LABEL,
  KEY_VERSION_MAGIC,
  KeyRing,
  checkKeyRingSettings,
  encodeKeyRingSettings,
  encodeKeyVersionRecord,
  frameVersionOf,
  keyVersionHeader,
  parseKeyRingSettings,
  parseKeyVersion,
  parseKeyVersionRecord,
} from './key-ring.js';
import { MasterKey } from './master-key.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function keyOf(byte: number, algorithm: 'AES256' | 'ChaCha20' = 'AES256'): MasterKey {
  return MasterKey.fromParts({
    key: new Uint8Array(32).fill(byte),
    algorithm,
    hmacKey: new Uint8Array(32).fill(byte + 1),
    createdAt: { seconds: 1_700_000_000, nanos: 0 },
    createdBy: '',
  });
}

function ringOf(n: number, settings = DEFAULT_KEY_RING_SETTINGS): KeyRing {
  const versions = new Map<number, MasterKey>();
  for (let v = 2; v <= n; v++) versions.set(v, keyOf(v * 10, v % 2 ? 'ChaCha20' : 'AES256'));
  return new KeyRing(keyOf(1), versions, settings);
}

function expectDecryptError(f: () => unknown): void {
  let e: unknown;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(isKesError(e, 'ERR_KES_DECRYPT')).toBe(true);
  expect((e as KesError).message).toBe('decryption failed: ciphertext is not authentic');
}

describe('parseKeyVersion', () => {
  it('accepts decimal 1..2^32-1 and the v prefix', () => {
    expect(parseKeyVersion('1')).toBe(1);
    expect(parseKeyVersion('v2')).toBe(2);
    expect(parseKeyVersion('4294967295')).toBe(4294967295);
  });
  it('refuses 0, signs, spaces, leading zeros, hex and overflow', () => {
    for (const s of ['', '0', 'v0', '-1', '+1', ' 1', '1 ', '01', '0x2', '1e3', '4294967296', '99999999999', 'V2', 'vv2', '2.0']) {
      expect(parseKeyVersion(s), s).toBeUndefined();
    }
  });
});

describe('the frame', () => {
  it('is the magic and a big-endian version, 8 bytes', () => {
    expect([...keyVersionHeader(258)]).toEqual([0x00, 0x4b, 0x56, 0x01, 0, 0, 1, 2]);
    expect(KEY_VERSION_MAGIC[0]).not.toBe(0x95);
    expect(KEY_VERSION_MAGIC[0]).not.toBe(0x7b);
  });

  it('makes a data key ciphertext 84 bytes instead of 76', () => {
    const ring = ringOf(2);
    expect(ring.generateDataKey(undefined, 1).ciphertext.length).toBe(76);
    const dk = ring.generateDataKey();
    expect(dk.version).toBe(2);
    expect(dk.ciphertext.length).toBe(84);
    expect(frameVersionOf(dk.ciphertext)).toBe(2);
  });
});

describe('KeyRing', () => {
  it('behaves like the plain key while never rotated: raw layout, version 1', () => {
    const base = keyOf(1);
    const ring = KeyRing.of(base);
    expect(ring.rotated).toBe(false);
    const { ciphertext, version } = ring.encrypt(enc('hello'), enc('ctx'));
    expect(version).toBe(1);
    expect(ciphertext.length).toBe(5 + 44);
    expect(Buffer.from(base.decrypt(ciphertext, enc('ctx'))).toString()).toBe('hello');
  });

  it('encrypts with the latest version and decrypts every version without a hint', () => {
    const ring = ringOf(4);
    const cts = [1, 2, 3, 4].map((v) => ring.encrypt(enc(`pt${v}`), enc('c'), v));
    const latest = ring.encrypt(enc('new'), enc('c'));
    expect(latest.version).toBe(4);
    for (const [i, { ciphertext }] of cts.entries()) {
      const out = ring.decrypt(ciphertext, enc('c'));
      expect(out.version).toBe(i + 1);
      expect(Buffer.from(out.plaintext).toString()).toBe(`pt${i + 1}`);
    }
  });

  it('binds the frame into the associated data: a relabelled header does not decrypt', () => {
    const versions = new Map([
      [2, keyOf(7)],
      [3, keyOf(7)],
    ]);
    const ring = new KeyRing(keyOf(1), versions);
    const { ciphertext } = ring.encrypt(enc('x'), undefined, 2);
    const relabelled = Buffer.from(ciphertext);
    relabelled.writeUInt32BE(3, 4);
    expectDecryptError(() => ring.decrypt(relabelled));
    expect(Buffer.from(ring.decrypt(ciphertext).plaintext).toString()).toBe('x');
  });

  it('treats the version of the request as a hint only', () => {
    const ring = ringOf(3);
    const { ciphertext } = ring.encrypt(enc('x'), undefined, 2);
    for (const hint of [1, 2, 3, 99]) expect(ring.decrypt(ciphertext, undefined, hint).version).toBe(2);
    const v1 = ring.encrypt(enc('y'), undefined, 1).ciphertext;
    expect(ring.decrypt(v1, undefined, 3).version).toBe(1);
  });

  it('falls back to version 1 for a raw ciphertext that happens to start with the magic', () => {
    const ring = ringOf(2);
    const randomness = new Uint8Array(28).fill(9);
    const stream = ring.base.encrypt(new Uint8Array(40), undefined, randomness);
    const pt = new Uint8Array(40);
    const lookalike = [...KEY_VERSION_MAGIC, 0, 0, 0, 2];
    for (let i = 0; i < 8; i++) pt[i] = (stream[i] as number) ^ (lookalike[i] as number);
    const ct = ring.base.encrypt(pt, undefined, randomness);
    expect([...ct.subarray(0, 8)]).toEqual(lookalike);
    expect(frameVersionOf(ct)).toBe(2);
    expect(Buffer.from(ring.decrypt(ct).plaintext).equals(Buffer.from(pt))).toBe(true);
  });

  it('refuses versions below min_decryption_version with the upstream error', () => {
    const ring = ringOf(3, { ...DEFAULT_KEY_RING_SETTINGS, minDecryptionVersion: 2 });
    const open = ringOf(3);
    const v1 = open.encrypt(enc('a'), undefined, 1).ciphertext;
    const v2 = open.encrypt(enc('b'), undefined, 2).ciphertext;
    expectDecryptError(() => ring.decrypt(v1));
    expect(ring.decrypt(v2).version).toBe(2);
    expect(ring.state(1)).toBe('disabled');
    expect(() => ring.encrypt(enc('a'), undefined, 1)).toThrow('key version is not allowed for encryption');
  });

  it('pins the encryption default and limits requested versions', () => {
    const pinned = ringOf(3, { ...DEFAULT_KEY_RING_SETTINGS, encryptionVersion: 1 });
    expect(pinned.encrypt(enc('a')).version).toBe(1);
    expect(pinned.generateDataKey().ciphertext.length).toBe(76);
    const limited = ringOf(3, { ...DEFAULT_KEY_RING_SETTINGS, minEncryptionVersion: 3 });
    expect(limited.state(2)).toBe('decrypt-only');
    expect(() => limited.encrypt(enc('a'), undefined, 2)).toThrow('key version is not allowed for encryption');
    expect(() => limited.encrypt(enc('a'), undefined, 9)).toThrow('key version does not exist');
  });

  it('keeps HMAC on version 1 unless asked', () => {
    const ring = ringOf(3);
    const plain = KeyRing.of(keyOf(1));
    expect(Buffer.from(ring.hmac(enc('m'))).equals(Buffer.from(plain.hmac(enc('m'))))).toBe(true);
    expect(Buffer.from(ring.hmac(enc('m'), 2)).equals(Buffer.from(plain.hmac(enc('m'))))).toBe(false);
    expect(() => ring.hmac(enc('m'), 5)).toThrow('key version does not exist');
  });

  it('reports a framed version it does not hold, for a reload', () => {
    const newer = ringOf(3);
    const older = ringOf(2);
    const ct = newer.encrypt(enc('a')).ciphertext;
    expect(older.unknownVersionIn(ct)).toBe(3);
    expect(newer.unknownVersionIn(ct)).toBeUndefined();
    expectDecryptError(() => older.decrypt(ct));
  });

  it('numbers the next version past every number ever seen', () => {
    expect(ringOf(3).nextVersion).toBe(4);
    expect(new KeyRing(keyOf(1), new Map(), { ...DEFAULT_KEY_RING_SETTINGS, highestVersion: 5 }).nextVersion).toBe(6);
    expect(new KeyRing(keyOf(1), new Map(), DEFAULT_KEY_RING_SETTINGS, 7).nextVersion).toBe(8);
  });
});

describe('records', () => {
  it('round-trips a version record with its binding', () => {
    const base = keyOf(1);
    const binding = base.bindingTag(KEY_VERSION_BINDING_LABEL);
    expect(binding).toMatch(/^[0-9a-f]{32}$/);
    const record = encodeKeyVersionRecord(2, keyOf(5), binding);
    const parsed = parseKeyVersionRecord(record);
    expect(parsed.version).toBe(2);
    expect(parsed.binding).toBe(binding);
    expect(Buffer.from(parsed.key.encode()).equals(Buffer.from(keyOf(5).encode()))).toBe(true);
    expect(keyOf(2).bindingTag(KEY_VERSION_BINDING_LABEL)).not.toBe(binding);
  });

  it('refuses malformed records without echoing key data', () => {
    for (const bad of [
      '',
      '{',
      '[]',
      '{"version":"1","binding":"00000000000000000000000000000000","key":"x"}',
      '{"version":"2","binding":"zz","key":"x"}',
    ]) {
      let e: unknown;
      try {
        parseKeyVersionRecord(enc(bad));
      } catch (x) {
        e = x;
      }
      expect(isKesError(e, 'ERR_KES_INVALID_KEY_ENCODING')).toBe(true);
    }
  });

  it('round-trips settings and checks them as Vault does', () => {
    const s = { minDecryptionVersion: 2, minEncryptionVersion: 3, encryptionVersion: 0, highestVersion: 4 };
    expect(parseKeyRingSettings(encodeKeyRingSettings(s, 'ab'.repeat(16)))).toEqual({ settings: s, binding: 'ab'.repeat(16) });
    expect(parseKeyRingSettings(enc('{}'))).toEqual({ settings: DEFAULT_KEY_RING_SETTINGS, binding: undefined });
    expect(() => parseKeyRingSettings(enc('[]'))).toThrow('invalid key encoding: key version settings are not an object');
    const has = (v: number): boolean => v >= 1 && v <= 4;
    expect(() => checkKeyRingSettings(s, 4, has)).not.toThrow();
    expect(() => checkKeyRingSettings({ ...s, minEncryptionVersion: 1 }, 4, has)).toThrow(
      'invalid key version config: min_encryption_version must be 0 or at least min_decryption_version',
    );
    expect(() => checkKeyRingSettings({ ...s, minDecryptionVersion: 5 }, 4, has)).toThrow(
      'min_decryption_version must be between 1 and the latest version (4)',
    );
    expect(() => checkKeyRingSettings({ ...s, encryptionVersion: 1 }, 4, has)).toThrow('encryption_version must not be below');
  });
});
