import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isKesError } from './errors.js';
import { formatTimestamp, parseTimestamp } from './timestamp.js';
import { parseAlgorithm } from './crypto.js';
import type { KeyAlgorithm } from './crypto.js';
import { MasterKey } from './master-key.js';
import { expectKesErrorSync as expectKesError, loadVectors } from '../../../test/support/index.js';

// Known-answer vectors, loaded as they are (never copied into the tests).
const vectors = loadVectors();

const b64 = (s: string | null | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const enc = (s: string) => new TextEncoder().encode(s);

const ZERO_TIME = { seconds: 0, nanos: 0 };

function reference(key: Uint8Array, algorithm: KeyAlgorithm): MasterKey {
  return MasterKey.fromParts({ key, algorithm, createdAt: ZERO_TIME, createdBy: '' });
}

/** Proves `parsed` holds exactly `keyBytes` of type `algorithm` without reading the secret. */
function expectSameSecret(parsed: MasterKey, keyBytes: Uint8Array, algorithm: KeyAlgorithm): void {
  const ref = reference(keyBytes, algorithm);
  expect(parsed.legacyKeyId).toBe(ref.legacyKeyId);
  const pt = enc('secret probe');
  expect(hex(ref.decrypt(parsed.encrypt(pt, enc('ad')), enc('ad')))).toBe(hex(pt));
  expect(hex(parsed.decrypt(ref.encrypt(pt)))).toBe(hex(pt));
}

describe('legacy key id (vectors legacy_key_id)', () => {
  it.each(vectors.legacy_key_id.cases as any[])('$key_id', (c) => {
    expect(reference(b64(c.key_b64), 'AES256').legacyKeyId).toBe(c.key_id);
  });
});

describe('hmac (vectors hmac_sha256)', () => {
  it.each((vectors.hmac_sha256.cases as any[]).map((c) => [c.message_text, c] as const))('message %j', (_m, c) => {
    const key = MasterKey.fromParts({
      key: new Uint8Array(32).fill(0x42),
      algorithm: 'AES256',
      hmacKey: b64(c.hmac_key_b64),
      createdAt: ZERO_TIME,
      createdBy: '',
    });
    const mac = key.hmac(b64(c.message_b64));
    expect(hex(mac)).toBe(c.hmac_hex);
    expect(Buffer.from(mac).toString('base64')).toBe(c.hmac_b64);
  });

  it('is refused for keys without HMAC key', () => {
    const legacy = MasterKey.parse('{"bytes":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}');
    expect(legacy.hasHmac).toBe(false);
    expectKesError(() => legacy.hmac(enc('x')), 'ERR_KES_HMAC_NOT_SUPPORTED', 'key does not support HMAC');
  });

  it('uses the HMAC key, not the secret key', () => {
    const k = new Uint8Array(32).fill(1);
    const a = MasterKey.fromParts({ key: k, algorithm: 'AES256', hmacKey: new Uint8Array(32).fill(2), createdAt: ZERO_TIME, createdBy: '' });
    const b = MasterKey.fromParts({ key: k, algorithm: 'AES256', hmacKey: new Uint8Array(32).fill(3), createdAt: ZERO_TIME, createdBy: '' });
    expect(hex(a.hmac(enc('m')))).not.toBe(hex(b.hmac(enc('m'))));
  });
});

describe('parse (vectors key_version_parse)', () => {
  it.each((vectors.key_version_parse.cases as any[]).map((c) => [c.raw_text, c] as const))('%s', (raw, c) => {
    if (c.should_fail) {
      // Not JSON, so it is read as base64 — which it is not either.
      expectKesError(() => MasterKey.parse(raw), 'ERR_KES_INVALID_KEY_ENCODING', 'invalid key encoding: not valid JSON or base64');
      return;
    }
    for (const input of [raw, enc(raw)]) {
      const key = MasterKey.parse(input);
      const want = c.expect;
      expect(key.algorithm).toBe(want.cipher);
      expect(key.hasHmac).toBe(want.hmac_key_b64 !== null);
      expect(formatTimestamp(key.createdAt, key.createdAtUtcOffsetMinutes)).toBe(want.created_at);
      expect(key.createdBy).toBe(want.created_by);
      expectSameSecret(key, b64(want.key_b64), want.cipher);
    }
  });
});

describe('encode (vectors key_version_encode)', () => {
  const cases = vectors.key_version_encode.cases as any[];
  it.each(cases.map((c) => [c.reason ?? 'valid', c] as const))('%s', (_r, c) => {
    const build = () =>
      MasterKey.fromParts({
        key: b64(c.key_b64),
        algorithm: (parseAlgorithm(c.cipher ?? '') ?? 'AES256') as KeyAlgorithm,
        hmacKey: c.hmac_key_b64 === null ? undefined : b64(c.hmac_key_b64),
        createdAt: parseTimestamp(c.created_at),
        createdBy: c.created_by,
      });
    if (c.key_b64 === null) {
      expectKesError(build, 'ERR_KES_INVALID_ARGUMENT', 'key must be 32 bytes, got 0');
      return;
    }
    const key = build();
    if (c.hmac_key_b64 === null) {
      expectKesError(() => key.encode(), 'ERR_KES_INVALID_KEY_ENCODING', 'invalid key encoding: key has no HMAC key');
      return;
    }
    const stored = key.encode();
    expect(text(stored)).toBe(c.expected_encoding_text);
    // Parse back: same fields (protobuf keys are reported in UTC).
    const back = MasterKey.parse(stored);
    expect(back.algorithm).toBe(c.cipher);
    expect(back.createdBy).toBe(c.created_by);
    expect(back.createdAt).toEqual({ seconds: key.createdAt.seconds, nanos: key.createdAt.nanos });
    expect(formatTimestamp(back.createdAt)).toBe(formatTimestamp(parseTimestamp(c.created_at)));
    expect(back.hasHmac).toBe(true);
    expect(hex(back.hmac(enc('m')))).toBe(hex(key.hmac(enc('m'))));
    expectSameSecret(back, b64(c.key_b64), c.cipher);
    expect(text(back.encode())).toBe(c.expected_encoding_text);
  });
});

describe('import (vectors import_key_cases)', () => {
  const v = vectors.import_key_cases;
  it.each((v.cases as any[]).map((c) => [c.cipher, c.key_len, c] as const))('cipher %j, %i bytes', (_c, _l, c) => {
    const bytes = new Uint8Array(c.key_len).fill(7);
    if (c.should_fail) {
      let thrown: unknown;
      try {
        MasterKey.import(bytes, c.cipher);
      } catch (e) {
        thrown = e;
      }
      expect(isKesError(thrown)).toBe(true);
      expect((thrown as Error).message).toBe(c.expected_message);
      expect((thrown as { status: number }).status).toBe(c.expected_status);
      return;
    }
    const key = MasterKey.import(bytes, c.cipher, { createdBy: 'me' });
    expect(key.algorithm).toBe(c.cipher);
    expect(key.hasHmac).toBe(true);
    expect(key.createdBy).toBe('me');
    expectSameSecret(key, bytes, key.algorithm);
  });

  it.each(Object.entries(v.accepted_cipher_strings as Record<string, string>))('accepts cipher %j as %s', (cipher, algorithm) => {
    expect(MasterKey.import(new Uint8Array(32), cipher).algorithm).toBe(algorithm);
  });

  it('checks the cipher before the key size', () => {
    expectKesError(() => MasterKey.import(new Uint8Array(16), 'aes256'), 'ERR_KES_UNSUPPORTED_ALGORITHM', "algorithm 'aes256' is not supported");
    expectKesError(
      () => MasterKey.import(new Uint8Array(33), 'XCHACHA20-POLY1305'),
      'ERR_KES_INVALID_KEY_SIZE',
      "invalid key size for 'XCHACHA20-POLY1305'",
    );
  });

  it('copies the imported bytes and draws a fresh HMAC key each time', () => {
    const bytes = new Uint8Array(32).fill(9);
    const a = MasterKey.import(bytes, 'AES256');
    const b = MasterKey.import(bytes, 'AES256');
    expect(hex(a.hmac(enc('m')))).not.toBe(hex(b.hmac(enc('m'))));
    const ct = a.encrypt(enc('x'));
    bytes.fill(0);
    expect(text(a.decrypt(ct))).toBe('x');
  });
});

describe('legacy JSON keys (all eras)', () => {
  const k32 = Buffer.alloc(32, 5).toString('base64');
  const id = 'a'.repeat(64);
  it.each([
    ['v0.1 – v0.19.1: bytes only', `{"bytes":"${k32}"}`, 'AES256', '0001-01-01T00:00:00Z', ''],
    [
      'v0.19.2 – v0.22.2: with algorithm',
      `{"bytes":"${k32}","algorithm":"AES256-GCM_SHA256","created_at":"2022-03-15T10:11:12.123456789Z","created_by":"${id}"}`,
      'AES256',
      '2022-03-15T10:11:12.123456789Z',
      id,
    ],
    [
      'v0.22.3: with version',
      `{"version":"v1","bytes":"${k32}","algorithm":"XCHACHA20-POLY1305","created_at":"2023-01-24T10:00:00+02:00","created_by":"${id}"}`,
      'ChaCha20',
      '2023-01-24T10:00:00+02:00',
      id,
    ],
    [
      'v0.23: short algorithm names',
      `{"version":"v1","bytes":"${k32}","algorithm":"ChaCha20","created_at":"2023-11-10T00:00:00Z"}`,
      'ChaCha20',
      '2023-11-10T00:00:00Z',
      '',
    ],
    ['empty algorithm means AES256', `{"bytes":"${k32}","algorithm":""}`, 'AES256', '0001-01-01T00:00:00Z', ''],
    [
      'case-insensitive fields, nulls, whitespace',
      ` {"BYTES":"${k32}","Algorithm":"AES256","created_at":null,"created_by":null,"extra":{}}\n`,
      'AES256',
      '0001-01-01T00:00:00Z',
      '',
    ],
  ])('%s', (_era, raw, algorithm, createdAt, createdBy) => {
    const key = MasterKey.parse(raw);
    expect(key.algorithm).toBe(algorithm);
    expect(key.hasHmac).toBe(false);
    expect(formatTimestamp(key.createdAt, key.createdAtUtcOffsetMinutes)).toBe(createdAt);
    expect(key.createdBy).toBe(createdBy);
    expectSameSecret(key, Buffer.alloc(32, 5), algorithm as KeyAlgorithm);
    expectKesError(() => key.encode(), 'ERR_KES_INVALID_KEY_ENCODING', 'invalid key encoding: key has no HMAC key');
  });

  it.each([
    ['{}', 'legacy key must be 32 bytes, got 0'],
    ['null', 'legacy key must be 32 bytes, got 0'],
    ['[]', 'legacy key is not a JSON object'],
    ['"abc"', 'legacy key is not a JSON object'],
    [`{"bytes":"${Buffer.alloc(16).toString('base64')}"}`, 'legacy key must be 32 bytes, got 16'],
    ['{"bytes":"AAAA"}', 'legacy key must be 32 bytes, got 3'],
    ['{"bytes":"not base64!"}', 'legacy key bytes are not valid base64'],
    ['{"bytes":42}', 'legacy key bytes are not a string'],
    [`{"bytes":"${k32}","algorithm":"AES-256-GCM"}`, 'unknown legacy key algorithm'],
    [`{"bytes":"${k32}","algorithm":1}`, 'legacy key algorithm is not a string'],
    [`{"bytes":"${k32}","created_at":"yesterday"}`, 'legacy key created_at is not an RFC 3339 time'],
    [`{"bytes":"${k32}","created_at":0}`, 'legacy key created_at is not a string'],
    [`{"bytes":"${k32}","created_by":["x"]}`, 'legacy key created_by is not a string'],
  ])('rejects %s', (raw, reason) => {
    expectKesError(() => MasterKey.parse(raw), 'ERR_KES_INVALID_KEY_ENCODING', `invalid key encoding: ${reason}`);
  });
});

// ---------------------------------------------------------------------------
// Protobuf edge cases, built by hand

function varint(n: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, n);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const field = (num: number, payload: number[]) => [(num << 3) | 2, ...varint(BigInt(payload.length)), ...payload];
const uvar = (num: number, v: bigint) => [(num << 3) | 0, ...varint(v)];
const keyMsg = (fill: number, type: number) => [...field(1, Array(32).fill(fill)), ...(type ? uvar(2, BigInt(type)) : [])];
const stored = (bytes: number[]) => Buffer.from(Buffer.from(bytes).toString('base64'));

describe('protobuf key versions', () => {
  it('round trips generated keys of both algorithms', () => {
    for (const algorithm of ['AES256', 'ChaCha20'] as const) {
      const key = MasterKey.generate({ algorithm, createdBy: 'creator', now: new Date('2024-05-06T07:08:09.123Z') });
      const back = MasterKey.parse(key.encode());
      expect(back.algorithm).toBe(algorithm);
      expect(back.createdBy).toBe('creator');
      expect(formatTimestamp(back.createdAt)).toBe('2024-05-06T07:08:09.123Z');
      expect(hex(back.hmac(enc('m')))).toBe(hex(key.hmac(enc('m'))));
      expect(text(back.decrypt(key.encrypt(enc('hello'))))).toBe('hello');
      expect(text(back.encode())).toBe(text(key.encode()));
    }
  });

  it('omits created_by when empty and writes zero times as an empty Timestamp', () => {
    const key = MasterKey.fromParts({
      key: new Uint8Array(32),
      algorithm: 'ChaCha20',
      hmacKey: new Uint8Array(32),
      createdAt: ZERO_TIME,
      createdBy: '',
    });
    const want = [...field(1, keyMsg(0, 2)), ...field(2, keyMsg(0, 1)), ...field(3, [])];
    expect(hex(Buffer.from(text(key.encode()), 'base64'))).toBe(hex(new Uint8Array(want)));
  });

  it('encodes negative seconds (pre-1970, Go zero time) as 10-byte varints and reads them back', () => {
    const key = MasterKey.fromParts({
      key: new Uint8Array(32),
      algorithm: 'AES256',
      hmacKey: new Uint8Array(32),
      createdAt: { seconds: -62135596800, nanos: 0 },
      createdBy: 'x',
    });
    const back = MasterKey.parse(key.encode());
    expect(formatTimestamp(back.createdAt)).toBe('0001-01-01T00:00:00Z');
  });

  it('reads a missing timestamp as the Unix epoch, skips unknown fields and merges repeated messages', () => {
    const bytes = [
      ...field(1, field(1, Array(32).fill(1))), // key bytes first …
      ...uvar(9, 12345n), // unknown varint field
      ...field(15, [1, 2, 3]), // unknown bytes field
      ...[(10 << 3) | 5, 1, 2, 3, 4], // unknown fixed32
      ...[(11 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8], // unknown fixed64
      ...[(12 << 3) | 3, ...uvar(1, 5n), (12 << 3) | 4], // unknown group
      ...uvar(4, 7n), // created_by with the wrong wire type: ignored like protobuf-go
      ...field(1, uvar(2, 2n)), // … type in a second occurrence (merged)
      ...field(2, keyMsg(3, 1)),
    ];
    const key = MasterKey.parse(stored(bytes));
    expect(key.algorithm).toBe('ChaCha20');
    expect(key.createdAt).toEqual({ seconds: 0, nanos: 0 });
    expect(formatTimestamp(key.createdAt)).toBe('1970-01-01T00:00:00Z');
    expect(key.createdBy).toBe('');
    expectSameSecret(key, new Uint8Array(32).fill(1), 'ChaCha20');
  });

  it('accepts base64 with line breaks (Go StdEncoding)', () => {
    const s = text(MasterKey.generate().encode());
    expect(MasterKey.parse(`${s.slice(0, 40)}\r\n${s.slice(40)}\n`).hasHmac).toBe(true);
  });

  it.each([
    ['no secret key', [...field(2, keyMsg(3, 1))], 'secret key must be 32 bytes'],
    ['short secret key', [...field(1, [...field(1, Array(16).fill(1)), ...uvar(2, 1n)]), ...field(2, keyMsg(3, 1))], 'secret key must be 32 bytes'],
    ['unknown key type 0', [...field(1, keyMsg(1, 0)), ...field(2, keyMsg(3, 1))], 'unknown secret key type 0'],
    ['unknown key type 3', [...field(1, keyMsg(1, 3)), ...field(2, keyMsg(3, 1))], 'unknown secret key type 3'],
    ['no HMAC key', [...field(1, keyMsg(1, 1))], 'HMAC key must be 32 bytes'],
    ['short HMAC key', [...field(1, keyMsg(1, 1)), ...field(2, [...field(1, Array(31).fill(1)), ...uvar(2, 1n)])], 'HMAC key must be 32 bytes'],
    ['unknown HMAC hash', [...field(1, keyMsg(1, 1)), ...field(2, keyMsg(3, 2))], 'unknown HMAC hash 2'],
    ['truncated length', [...field(1, keyMsg(1, 1)).slice(0, 10)], 'malformed protobuf: truncated field'],
    ['truncated varint', [0x08, 0x80], 'malformed protobuf: truncated varint'],
    ['varint overflow', [0x08, ...Array(10).fill(0xff), 0x01], 'malformed protobuf: varint overflow'],
    ['field number 0', [0x02, 0x00], 'malformed protobuf: invalid field number'],
    ['stray end group', [(5 << 3) | 4], 'malformed protobuf: invalid wire type'],
    ['wire type 7', [(5 << 3) | 7], 'malformed protobuf: invalid wire type'],
    [
      'invalid UTF-8 in created_by',
      [...field(1, keyMsg(1, 1)), ...field(2, keyMsg(3, 1)), ...field(4, [0xff, 0xfe])],
      'malformed protobuf: created_by is not valid UTF-8',
    ],
  ])('rejects %s', (_name, bytes, reason) => {
    expectKesError(() => MasterKey.parse(stored(bytes as number[])), 'ERR_KES_INVALID_KEY_ENCODING', `invalid key encoding: ${reason}`);
  });

  it.each(['', 'not base64', 'CiQKIAAA', '-_-_', '{"bytes":'])('rejects garbage %j', (raw) => {
    let thrown: unknown;
    try {
      MasterKey.parse(raw);
    } catch (e) {
      thrown = e;
    }
    expect(isKesError(thrown, 'ERR_KES_INVALID_KEY_ENCODING')).toBe(true);
    expect((thrown as Error).message).toMatch(/^invalid key encoding: /);
    expect((thrown as Error).message).not.toContain(raw || '\u0000');
  });
});

describe('MasterKey', () => {
  it('generates AES256 keys by default with independent random key and HMAC key', () => {
    const before = Date.now();
    const key = MasterKey.generate({ createdBy: 'me' });
    expect(key.algorithm).toBe('AES256');
    expect(key.hasHmac).toBe(true);
    expect(key.createdBy).toBe('me');
    const ms = key.createdAt.seconds * 1000 + key.createdAt.nanos / 1e6;
    expect(ms).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(key.createdAt.nanos % 1_000_000).toBe(0);
    expect(key.createdAtUtcOffsetMinutes).toBe(0);
    expect(MasterKey.generate().legacyKeyId).not.toBe(key.legacyKeyId);
  });

  it('takes the creation time from init.now with millisecond precision', () => {
    const key = MasterKey.generate({ now: new Date('2024-01-12T10:39:20.886Z') });
    expect(key.createdAt).toEqual({ seconds: 1705055960, nanos: 886_000_000 });
    expect(MasterKey.generate({ now: new Date(-1) }).createdAt).toEqual({ seconds: -1, nanos: 999_000_000 });
  });

  it('rejects unknown algorithms and wrong sizes in generate/fromParts', () => {
    expectKesError(
      () => MasterKey.generate({ algorithm: 'AES128' as KeyAlgorithm }),
      'ERR_KES_UNSUPPORTED_ALGORITHM',
      "algorithm 'AES128' is not supported",
    );
    expectKesError(
      () => MasterKey.fromParts({ key: new Uint8Array(32), algorithm: 'AES256', hmacKey: new Uint8Array(8), createdAt: ZERO_TIME, createdBy: '' }),
      'ERR_KES_INVALID_ARGUMENT',
      'hmacKey must be 32 bytes, got 8',
    );
  });

  it('never reveals key material through inspect, JSON or toString', () => {
    const keyBytes = new Uint8Array(32).fill(0xab);
    const hmacBytes = new Uint8Array(32).fill(0xcd);
    const key = MasterKey.fromParts({ key: keyBytes, algorithm: 'AES256', hmacKey: hmacBytes, createdAt: ZERO_TIME, createdBy: 'me' });
    const renderings = [inspect(key, { showHidden: true, depth: 10 }), JSON.stringify(key), String(key), `${key}`, JSON.stringify({ nested: [key] })];
    for (const r of renderings) {
      for (const secret of [
        hex(keyBytes),
        hex(hmacBytes),
        Buffer.from(keyBytes).toString('base64'),
        Buffer.from(hmacBytes).toString('base64'),
        '171, 171',
        'ab ab',
      ]) {
        expect(r).not.toContain(secret);
      }
      expect(r).toContain('redacted');
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({
      algorithm: 'AES256',
      createdAt: '1970-01-01T00:00:00Z',
      createdBy: 'me',
      hasHmac: true,
      key: '[redacted]',
    });
    expect(Object.keys(key)).toEqual([]);
  });

  it('is unusable after destroy()', () => {
    const key = MasterKey.generate();
    const ct = key.encrypt(enc('x'));
    key.destroy();
    key.destroy();
    expect(key.destroyed).toBe(true);
    for (const use of [
      () => key.encrypt(enc('x')),
      () => key.decrypt(ct),
      () => key.generateDataKey(),
      () => key.hmac(enc('x')),
      () => key.encode(),
      () => key.legacyKeyId,
    ]) {
      expectKesError(use, 'ERR_KES_INTERNAL', 'internal server error');
    }
  });
});
