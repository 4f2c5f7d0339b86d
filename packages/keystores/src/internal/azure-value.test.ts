import { describe, expect, it } from 'vitest';
import { decodeAzureValue, encodeAzureValue } from './azure-value.js';

describe('azure value layout', () => {
  it('stores text values (what KES writes) as they are, like upstream', () => {
    const text = 'CgQIARIgAAAA+/=';
    expect(encodeAzureValue(new TextEncoder().encode(text))).toBe(text);
    expect(decodeAzureValue(text)).toEqual(new TextEncoder().encode(text));
  });

  it('escapes bytes that are not UTF-8, and text that looks escaped', () => {
    const binary = new Uint8Array([0xff, 0x00, 0xc3]);
    expect(encodeAzureValue(binary)).toBe('kes-ts:base64:/wDD');
    expect(decodeAzureValue('kes-ts:base64:/wDD')).toEqual(binary);
    const tricky = new TextEncoder().encode('kes-ts:base64:AA==');
    expect(decodeAzureValue(encodeAzureValue(tricky))).toEqual(tricky);
  });

  it('refuses a malformed escaped value', () => {
    expect(decodeAzureValue('kes-ts:base64:not base64!')).toBeUndefined();
  });
});
