import { describe, expect, it } from 'vitest';
import { crc32c } from './gcp-crc32c.js';

describe('crc32c', () => {
  // Check values of CRC-32C (RFC 3720 appendix B.4 and the common "123456789" check value).
  it.each([
    ['empty', new Uint8Array(0), 0x00000000],
    ['"123456789"', new Uint8Array(Buffer.from('123456789', 'ascii')), 0xe3069283],
    ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
    ['32 bytes of 0xff', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['bytes 0..31', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ])('%s', (_, data, want) => {
    expect(crc32c(data)).toBe(want);
  });
});
