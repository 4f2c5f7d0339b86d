import { describe, expect, it } from 'vitest';
import { decodeSecretData, encodeSecretData } from './entrust-value.js';

describe('entrust secret_data encoding', () => {
  it('writes standard padded base64 and reads it back byte-exact', () => {
    for (const bytes of [[], [0], [0, 1], [0xff, 0xfe, 0xfd], [0xfb, 0xff, 0xbf, 0x00]]) {
      const v = new Uint8Array(bytes);
      const text = encodeSecretData(v);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeSecretData(text)).toEqual(v);
    }
    expect(encodeSecretData(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
  });

  it('encodes only the view of a Buffer, not its whole backing memory', () => {
    const pool = Buffer.from('xxABCxx');
    expect(encodeSecretData(pool.subarray(2, 5))).toBe('QUJD');
  });

  it('skips CR/LF like Go, refuses everything else that is not standard base64', () => {
    expect(decodeSecretData('QU\r\nJD')).toEqual(new Uint8Array([0x41, 0x42, 0x43]));
    for (const bad of ['QUJ', 'QUJD=', '-_8=', 'QU JD', 'QUJD\0', '====', 'Q===']) expect(decodeSecretData(bad), bad).toBeUndefined();
  });
});
