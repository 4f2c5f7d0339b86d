import { describe, expect, it } from 'vitest';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { expectKesErrorSync as expectKesError } from '../../../test/support/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('decodeBase64Strict', () => {
  it.each([
    ['', ''],
    ['AA==', '00'],
    ['AAE=', '0001'],
    ['AAEC', '000102'],
    ['+/+/', 'fbffbf'],
    ['AA\r\n==', '00'],
    ['\nAA\n=\r=\n', '00'],
    ['AB==', '00'], // Go's StdEncoding is not Strict: non-zero padding bits are tolerated
    ['SGVsbG8gV29ybGQh', Buffer.from('Hello World!').toString('hex')],
  ])('accepts %j', (input, want) => {
    expect(hex(decodeBase64Strict(input))).toBe(want);
  });

  it.each([
    ['AA', 'missing padding'],
    ['AAE', 'missing padding (3)'],
    ['AA=', 'short padding'],
    ['-_-_', 'URL-safe alphabet'],
    ['AA-=', 'URL-safe char with padding'],
    ['AA== ', 'trailing space'],
    [' AA==', 'leading space'],
    ['AA==AA==', 'padding in the middle'],
    ['A===', 'three padding characters'],
    ['====', 'only padding'],
    ['AA\t==', 'tab is not ignored'],
    ['AAé=', 'non-ASCII'],
    ['AA==\u0000', 'NUL'],
  ])('rejects %j (%s) without echoing the input', (input) => {
    expectKesError(() => decodeBase64Strict(input), 'ERR_KES_INVALID_ARGUMENT', 'invalid base64 encoding');
  });

  it('round trips with encodeBase64, including views into larger buffers', () => {
    const big = new Uint8Array(300).map((_, i) => i & 0xff);
    for (const len of [0, 1, 2, 3, 31, 32, 33, 256]) {
      const view = big.subarray(7, 7 + len);
      const s = encodeBase64(view);
      expect(s).toBe(Buffer.from(view).toString('base64'));
      expect(hex(decodeBase64Strict(s))).toBe(hex(view));
    }
  });
});
