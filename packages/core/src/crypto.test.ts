import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, parseAlgorithm } from './crypto.js';
import type { KeyAlgorithm } from './crypto.js';
import { MasterKey } from './master-key.js';
import { hchacha20 } from './internal/chacha.js';
import { parseMsgpackCiphertext } from './internal/msgpack.js';
import { expectKesErrorSync, loadVectors } from '../../../test/support/index.js';

// Known-answer vectors, loaded as they are (never copied into the tests).
const vectors = loadVectors();

const b64 = (s: string | null | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64'));
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function keyOf(cipher: string, keyB64: string): MasterKey {
  const algorithm = parseAlgorithm(cipher);
  if (algorithm === undefined) throw new Error(`vector cipher ${cipher}`);
  return MasterKey.fromParts({ key: b64(keyB64), algorithm, createdAt: { seconds: 0, nanos: 0 }, createdBy: '' });
}

/** The single decryption failure: exact code and message, no distinguishing cause. */
function expectDecryptFailure(fn: () => unknown): void {
  const thrown = expectKesErrorSync(fn, 'ERR_KES_DECRYPT', 'decryption failed: ciphertext is not authentic');
  expect(thrown.cause).toBeUndefined();
  expect(thrown.status).toBe(400);
}

describe('parseAlgorithm (vectors kms_go_key_algorithm_text)', () => {
  const cases = vectors.kms_go_key_algorithm_text.cases as { text: string; algorithm: string | null }[];
  it.each(cases)('$text → $algorithm', ({ text, algorithm }) => {
    expect(parseAlgorithm(text)).toBe(algorithm ?? undefined);
  });

  it.each(['aes256', 'AES-256', 'AES-256-GCM', 'chacha20', 'CHACHA20', 'XChaCha20-Poly1305', 'ChaCha20Poly1305', ' AES256', 'AES256 ', ''])(
    'rejects near miss %j',
    (text) => {
      expect(parseAlgorithm(text)).toBeUndefined();
    },
  );

  it('lists both algorithms', () => {
    expect(ALGORITHMS).toEqual(['AES256', 'ChaCha20']);
    expect(Object.isFrozen(ALGORITHMS)).toBe(true);
  });
});

describe('hchacha20 (vector hchacha20_kat)', () => {
  it('matches the draft-irtf-cfrg-xchacha test vector', () => {
    const v = vectors.hchacha20_kat;
    expect(hex(hchacha20(fromHex(v.key_hex), fromHex(v.input16_hex)))).toBe(v.output32_hex);
  });

  it('checks argument lengths without echoing values', () => {
    expect(() => hchacha20(new Uint8Array(31), new Uint8Array(16))).toThrow('hchacha20: key must be 32 bytes, got 31');
    expect(() => hchacha20(new Uint8Array(32), new Uint8Array(12))).toThrow('hchacha20: input must be 16 bytes, got 12');
  });
});

describe('decrypt (vectors ciphertext_decrypt)', () => {
  const cases = vectors.ciphertext_decrypt as any[];
  it.each(cases.map((c) => [c.id, c.format, c] as const))('case %i (%s)', (_id, _format, c) => {
    const key = keyOf(c.cipher, c.key_b64);
    const ct = c.ciphertext_text !== undefined ? new TextEncoder().encode(c.ciphertext_text) : b64(c.ciphertext_b64);
    if (c.ciphertext_len !== undefined) expect(ct.length).toBe(c.ciphertext_len);
    const ad = b64(c.associated_data_b64);
    if (c.should_fail) {
      expectDecryptFailure(() => key.decrypt(ct, ad));
    } else {
      expect(hex(key.decrypt(ct, ad))).toBe(hex(b64(c.plaintext_b64)));
      // Absent and empty associated data are the same.
      if (ad.length === 0) expect(hex(key.decrypt(ct))).toBe(hex(b64(c.plaintext_b64)));
    }
  });

  const packed = cases.filter((c) => c.ciphertext_b64 !== undefined && Buffer.from(c.ciphertext_b64, 'base64')[0] === 0x95);
  it.each(packed.map((c) => [c.id, c] as const))('MessagePack case %i parses to the documented iv and nonce', (_id, c) => {
    const parsed = parseMsgpackCiphertext(b64(c.ciphertext_b64));
    expect(parsed).toBeDefined();
    expect(hex(parsed!.iv)).toBe(c.parsed_iv_hex);
    expect(hex(parsed!.nonce)).toBe(c.parsed_nonce_hex);
    expect(parsed!.algorithm).toBe(c.embedded_algorithm);
  });
});

describe('encrypt (vectors ciphertext_encrypt_roundtrip)', () => {
  const cases = vectors.ciphertext_encrypt_roundtrip.cases as any[];
  it.each(cases.map((c, i) => [i, c.cipher, c] as const))('case %i (%s) round trips', (_i, _cipher, c) => {
    const key = keyOf(c.cipher, c.key_b64);
    const pt = b64(c.plaintext_b64);
    const ad = b64(c.associated_data_b64);
    const ct = key.encrypt(pt, ad);
    expect(ct.length).toBe(pt.length + 44);
    expect(hex(key.decrypt(ct, ad))).toBe(hex(pt));
    // Fresh randomness every time.
    expect(hex(key.encrypt(pt, ad))).not.toBe(hex(ct));
  });
});

describe('encrypt (vectors ciphertext_encrypt_fixed_randomness)', () => {
  const cases = vectors.ciphertext_encrypt_fixed_randomness.cases as any[];
  it.each(cases.map((c) => [c.cipher, c] as const))('%s is byte-exact', (_cipher, c) => {
    const key = keyOf(c.cipher, c.key_b64);
    const iv = fromHex(c.iv_hex);
    const randomness = new Uint8Array([...iv, ...fromHex(c.nonce_hex)]);
    const pt = b64(c.plaintext_b64);
    const ad = b64(c.associated_data_b64);
    const ct = key.encrypt(pt, ad, randomness);
    expect(ct.length).toBe(c.ciphertext_len);
    expect(Buffer.from(ct).toString('base64')).toBe(c.ciphertext_b64);
    expect(hex(key.decrypt(ct, ad))).toBe(hex(pt));
    // The documented per-message key derivation.
    const k = b64(c.key_b64);
    const mk = c.cipher === 'AES256' ? createHmac('sha256', k).update(iv).digest() : hchacha20(k, iv);
    expect(hex(mk)).toBe(c.derived_message_key_hex);
  });

  it('never repeats an iv/nonce, also across refills of the randomness pool', () => {
    const key = MasterKey.generate();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const ct = key.encrypt(new Uint8Array(0));
      seen.add(hex(ct.subarray(16)));
      seen.add(hex(ct.subarray(16, 32))); // ivs alone are distinct too
    }
    expect(seen.size).toBe(2000);
  });

  it('rejects randomness of the wrong size', () => {
    const key = MasterKey.generate();
    expect(() => key.encrypt(new Uint8Array(1), undefined, new Uint8Array(27))).toThrow('randomness must be 28 bytes, got 27');
  });
});

// ---------------------------------------------------------------------------
// Failure modes, per algorithm

function makeKey(algorithm: KeyAlgorithm, seed = 1): MasterKey {
  const key = new Uint8Array(32).map((_, i) => (i * 7 + seed) & 0xff);
  return MasterKey.fromParts({ key, algorithm, hmacKey: new Uint8Array(32), createdAt: { seconds: 0, nanos: 0 }, createdBy: '' });
}

/** Builds a MessagePack ciphertext from a raw one (fixstr algorithm, fixstr id, bin8 parts). */
function toMsgpack(raw: Uint8Array, algorithm: string, id = ''): Uint8Array {
  const n = raw.length - 28;
  const sealed = raw.subarray(0, n);
  const iv = raw.subarray(n, n + 16);
  const nonce = raw.subarray(n + 16);
  const str = (s: string) => (s.length < 32 ? [0xa0 | s.length] : [0xd9, s.length]).concat([...Buffer.from(s, 'latin1')]);
  return new Uint8Array([0x95, ...str(algorithm), ...str(id), 0xc4, 16, ...iv, 0xc4, 12, ...nonce, 0xc4, sealed.length, ...sealed]);
}

/** Builds a legacy JSON ciphertext from a raw one. */
function toJson(raw: Uint8Array, aead: string, extra = ''): Uint8Array {
  const n = raw.length - 28;
  const e = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return new TextEncoder().encode(
    `{"aead":"${aead}"${extra},"iv":"${e(raw.subarray(n, n + 16))}","nonce":"${e(raw.subarray(n + 16))}","bytes":"${e(raw.subarray(0, n))}"}`,
  );
}

describe.each(['AES256', 'ChaCha20'] as const)('%s ciphertexts', (algorithm) => {
  const key = makeKey(algorithm);
  const pt = new TextEncoder().encode('thirty-two bytes of plaintext!!!');
  const ad = new TextEncoder().encode('{"MinIO admin API":"ServerInfoHandler"}');
  const ct = key.encrypt(pt, ad);
  const n = pt.length;

  it('round trips, including empty plaintext and absent associated data', () => {
    expect(hex(key.decrypt(ct, ad))).toBe(hex(pt));
    const empty = key.encrypt(new Uint8Array(0));
    expect(empty.length).toBe(44);
    expect(key.decrypt(empty).length).toBe(0);
    expect(key.decrypt(empty, new Uint8Array(0)).length).toBe(0);
  });

  it('does not modify its inputs', () => {
    const copyCt = hex(ct);
    key.decrypt(ct, ad);
    expect(hex(ct)).toBe(copyCt);
  });

  const regions = { ciphertext: [0, n], tag: [n, n + 16], iv: [n + 16, n + 32], nonce: [n + 32, n + 44] } as const;
  for (const [name, [from, to]] of Object.entries(regions)) {
    it.each([from, Math.floor((from + to) / 2), to - 1])(`rejects a flipped bit in the ${name} (byte %i)`, (pos) => {
      const bad = Uint8Array.from(ct);
      bad[pos]! ^= 0x01;
      expectDecryptFailure(() => key.decrypt(bad, ad));
    });
  }

  it('rejects wrong, missing and unexpected associated data', () => {
    expectDecryptFailure(() => key.decrypt(ct, new TextEncoder().encode('{"MinIO admin API":"other"}')));
    expectDecryptFailure(() => key.decrypt(ct));
    expectDecryptFailure(() => key.decrypt(ct, new Uint8Array(0)));
    const noAd = key.encrypt(pt);
    expectDecryptFailure(() => key.decrypt(noAd, ad));
  });

  it.each(Array.from({ length: 29 }, (_, i) => i))('rejects input truncated to %i bytes', (len) => {
    expectDecryptFailure(() => key.decrypt(ct.subarray(0, len), ad));
    expectDecryptFailure(() => key.decrypt(ct.subarray(ct.length - len), ad));
  });

  it('rejects input with the last byte cut off or an extra byte', () => {
    expectDecryptFailure(() => key.decrypt(ct.subarray(0, ct.length - 1), ad));
    expectDecryptFailure(() => key.decrypt(new Uint8Array([...ct, 0]), ad));
    expectDecryptFailure(() => key.decrypt(new Uint8Array([0, ...ct]), ad));
  });

  it('rejects the same key bytes used as the other key type', () => {
    const other = makeKey(algorithm === 'AES256' ? 'ChaCha20' : 'AES256');
    expectDecryptFailure(() => other.decrypt(ct, ad));
  });

  it('rejects a different key of the same type', () => {
    expectDecryptFailure(() => makeKey(algorithm, 2).decrypt(ct, ad));
  });

  it('reads MessagePack ciphertexts and ignores the embedded algorithm and key id', () => {
    for (const name of ['AES256', 'AES256-GCM_SHA256', 'ChaCha20', 'XCHACHA20-POLY1305']) {
      expect(hex(key.decrypt(toMsgpack(ct, name), ad))).toBe(hex(pt));
      expect(hex(key.decrypt(toMsgpack(ct, name, '0123456789abcdef0123456789abcdef'), ad))).toBe(hex(pt));
    }
    expectDecryptFailure(() => key.decrypt(toMsgpack(ct, algorithm), new Uint8Array(1)));
  });

  it('reads str8/str16 and bin16/bin32 MessagePack encodings', () => {
    const m = ct.length - 28;
    const sealed = [...ct.subarray(0, m)];
    // biome-ignore format: one MessagePack element per line
    const bytes = new Uint8Array([
      0x95,
      0xd9, 6, ...Buffer.from('AES256'),
      0xda, 0, 0,
      0xc5, 0, 16, ...ct.subarray(m, m + 16),
      0xc6, 0, 0, 0, 12, ...ct.subarray(m + 16),
      0xc6, 0, 0, 0, sealed.length, ...sealed,
    ]);
    expect(hex(key.decrypt(bytes, ad))).toBe(hex(pt));
  });

  it('rejects MessagePack ciphertexts with an unknown algorithm or wrong part sizes', () => {
    expectDecryptFailure(() => key.decrypt(toMsgpack(ct, 'AES-256-GCM'), ad));
    const bad = toMsgpack(ct, 'AES256');
    expectDecryptFailure(() => key.decrypt(new Uint8Array([...bad, 0]), ad)); // trailing byte
    expectDecryptFailure(() => key.decrypt(bad.subarray(0, bad.length - 1), ad)); // truncated
    const m = ct.length - 28;
    const shortIv = new Uint8Array([
      0x95,
      0xa6,
      ...Buffer.from('AES256'),
      0xa0,
      0xc4,
      15,
      ...ct.subarray(m, m + 15),
      0xc4,
      12,
      ...ct.subarray(m + 16),
      0xc4,
      m,
      ...ct.subarray(0, m),
    ]);
    expectDecryptFailure(() => key.decrypt(shortIv, ad));
    const binAsStr = new Uint8Array([
      0x95,
      0xc4,
      6,
      ...Buffer.from('AES256'),
      0xa0,
      0xc4,
      16,
      ...ct.subarray(m, m + 16),
      0xc4,
      12,
      ...ct.subarray(m + 16),
      0xc4,
      m,
      ...ct.subarray(0, m),
    ]);
    expectDecryptFailure(() => key.decrypt(binAsStr, ad));
  });

  it('reads legacy JSON ciphertexts with Go JSON rules', () => {
    for (const aead of ['AES-256-GCM-HMAC-SHA-256', 'ChaCha20Poly1305']) {
      expect(hex(key.decrypt(toJson(ct, aead), ad))).toBe(hex(pt));
      expect(hex(key.decrypt(toJson(ct, aead, ',"id":"66687aadf862bd776c8fc18b8e9f8e20"'), ad))).toBe(hex(pt));
    }
    // Case-insensitive keys, whitespace, unknown fields.
    const text = new TextDecoder()
      .decode(toJson(ct, 'ChaCha20Poly1305', ',"unknown":[1,{"x":null}]'))
      .replace('"iv"', '"IV"')
      .replace('"bytes"', '"Bytes"');
    expect(hex(key.decrypt(new TextEncoder().encode(`${text}\n\t `), ad))).toBe(hex(pt));
  });

  it('rejects legacy JSON ciphertexts that are unsupported or malformed', () => {
    expectDecryptFailure(() => key.decrypt(toJson(ct, 'AES-256-GCM'), ad)); // ≤ v0.6.0 format
    expectDecryptFailure(() => key.decrypt(toJson(ct, 'AES256'), ad));
    const json = toJson(ct, 'ChaCha20Poly1305');
    expectDecryptFailure(() => key.decrypt(new Uint8Array([...json, 0x20, 0x7b]), ad)); // trailing bytes (Unmarshal)
    expectDecryptFailure(() => key.decrypt(toJson(ct, 'ChaCha20Poly1305', ',"id":5'), ad)); // type error
    const unpadded = new TextDecoder().decode(json).replace(/"iv":"([^"]*)"/, (_m, v: string) => `"iv":"${v.replace(/=+$/, '')}"`);
    expect(unpadded).not.toBe(new TextDecoder().decode(json));
    expectDecryptFailure(() => key.decrypt(new TextEncoder().encode(unpadded), ad));
    const noBytes = new TextDecoder().decode(json).replace(/,"bytes":"[^"]*"/, '');
    expectDecryptFailure(() => key.decrypt(new TextEncoder().encode(noBytes), ad));
  });

  it.each([0x95, 0x7b])('falls back to the raw format when a raw ciphertext starts with 0x%s and does not parse', (first) => {
    // Choose the first plaintext byte so that the first ciphertext byte is `first`.
    const randomness = new Uint8Array(28).fill(9);
    const probe = key.encrypt(new Uint8Array(8), ad, randomness);
    const chosen = new Uint8Array(8);
    chosen[0] = probe[0]! ^ first;
    const raw = key.encrypt(chosen, ad, randomness);
    expect(raw[0]).toBe(first);
    expect(hex(key.decrypt(raw, ad))).toBe(hex(chosen));
    // And a structured-looking prefix that is not authentic still fails the same way.
    const junk = Uint8Array.from(raw);
    junk[raw.length - 1]! ^= 1;
    expectDecryptFailure(() => key.decrypt(junk, ad));
  });

  it('generates 32-byte data keys with 76-byte ciphertexts', () => {
    const dk = key.generateDataKey(ad);
    expect(dk.plaintext.length).toBe(32);
    expect(dk.ciphertext.length).toBe(76);
    expect(hex(key.decrypt(dk.ciphertext, ad))).toBe(hex(dk.plaintext));
    expectDecryptFailure(() => key.decrypt(dk.ciphertext));
  });
});
