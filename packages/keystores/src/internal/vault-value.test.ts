import { describe, expect, it } from 'vitest';
import { ESCAPE_PREFIX, decodeFieldValue, encodeFieldValue, isTransitCiphertext } from './vault-value.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

describe('vault field values', () => {
  it('stores UTF-8 text as it is (upstream layout)', () => {
    expect(encodeFieldValue(text('CiQKIAAA=='))).toBe('CiQKIAAA==');
    expect(encodeFieldValue(text('{"bytes":"AAAA"}'))).toBe('{"bytes":"AAAA"}');
    expect(encodeFieldValue(text('héllo\u0000'))).toBe('héllo\u0000');
    expect(decodeFieldValue('CiQKIAAA==')).toEqual(text('CiQKIAAA=='));
  });

  it('escapes bytes that are not UTF-8, and text that would be ambiguous', () => {
    expect(encodeFieldValue(bytes(0xff, 0x00))).toBe(`${ESCAPE_PREFIX}/wA=`);
    expect(encodeFieldValue(bytes(0xed, 0xa0, 0x80))).toBe(`${ESCAPE_PREFIX}7aCA`); // a UTF-8-encoded surrogate
    expect(encodeFieldValue(text(`${ESCAPE_PREFIX}AAAA`))).toBe(`${ESCAPE_PREFIX}${Buffer.from(`${ESCAPE_PREFIX}AAAA`).toString('base64')}`);
    expect(encodeFieldValue(text('vault:v1:abc')).startsWith(ESCAPE_PREFIX)).toBe(true);
    for (const v of [bytes(0xff, 0x00), bytes(0x80), text(`${ESCAPE_PREFIX}x`), text('vault:v1:abc'), bytes()]) {
      expect(decodeFieldValue(encodeFieldValue(v))).toEqual(v);
    }
  });

  it('refuses malformed escaped values', () => {
    expect(decodeFieldValue(`${ESCAPE_PREFIX}not base64!`)).toBeUndefined();
    expect(decodeFieldValue(`${ESCAPE_PREFIX}AAA`)).toBeUndefined();
  });

  it('recognises transit ciphertexts of any key version', () => {
    expect(isTransitCiphertext('vault:v1:abc')).toBe(true);
    expect(isTransitCiphertext('vault:v12:abc')).toBe(true);
    expect(isTransitCiphertext('vault:x1:abc')).toBe(false);
    expect(isTransitCiphertext('CiQK')).toBe(false);
  });
});
