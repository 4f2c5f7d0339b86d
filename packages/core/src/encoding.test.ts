import { describe, expect, it } from 'vitest';
import {
  decodeBase64Strict,
  encodeBase64,
  formatTimestamp,
  getField,
  parseDuration,
  parseGoJson,
  parseTimestamp,
} from './encoding.js';
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

describe('parseGoJson', () => {
  it('reads only the first value and ignores trailing bytes', () => {
    expect(parseGoJson('{"a":1}{"b":2}')).toEqual({ a: 1 });
    expect(parseGoJson('{"a":1} garbage ]]')).toEqual({ a: 1 });
    expect(parseGoJson('  \n\t{"a":"x"}\n')).toEqual({ a: 'x' });
    expect(parseGoJson('[1,2,3]xyz')).toEqual([1, 2, 3]);
    expect(parseGoJson('"str"')).toBe('str');
    expect(parseGoJson('null')).toBeNull();
    expect(parseGoJson('true')).toBe(true);
    expect(parseGoJson('-1.5e2')).toBe(-150);
  });

  it('accepts bytes (UTF-8) as well as strings', () => {
    expect(parseGoJson(new TextEncoder().encode('{"name":"ü"} tail'))).toEqual({ name: 'ü' });
  });

  it('keeps the last of duplicate keys', () => {
    expect(parseGoJson('{"a":1,"a":2}')).toEqual({ a: 2 });
  });

  it('decodes escapes like Go (lone surrogates become U+FFFD)', () => {
    expect(parseGoJson('"a\\n\\t\\"\\\\\\/\\u00e9\\ud83d\\ude00"')).toBe('a\n\t"\\/é😀');
    expect(parseGoJson('"\\ud800x"')).toBe('\ufffdx');
    expect(parseGoJson('"\\udc00"')).toBe('\ufffd');
  });

  it('returns null-prototype objects (a __proto__ key is plain data)', () => {
    const v = parseGoJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(getField(v, '__proto__')).toEqual({ polluted: true });
  });

  it.each([
    ['', 'empty body'],
    ['   \n\t ', 'whitespace only'],
    ['{', 'unterminated object'],
    ['{"a":}', 'missing value'],
    ['{"a" 1}', 'missing colon'],
    ['{"a":1,}', 'trailing comma'],
    ["{'a':1}", 'single quotes'],
    ['"abc', 'unterminated string'],
    ['"a\u0001"', 'raw control character'],
    ['"\\x"', 'invalid escape'],
    ['01', 'leading zero is not a value then trailing'],
    ['-', 'lone minus'],
    ['nul', 'truncated literal'],
    ['\ufeff{}', 'byte-order mark'],
    ['[1 2]', 'missing comma'],
  ])('rejects %j (%s)', (input) => {
    if (input === '01') {
      // Go's decoder reads `0` and ignores the rest; this is not an error.
      expect(parseGoJson(input)).toBe(0);
      return;
    }
    expectKesError(() => parseGoJson(input), 'ERR_KES_INVALID_ARGUMENT', 'invalid JSON');
  });

  it('rejects a BOM given as bytes', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    expectKesError(() => parseGoJson(bytes), 'ERR_KES_INVALID_ARGUMENT', 'invalid JSON');
  });

  it('rejects absurd nesting instead of crashing', () => {
    expectKesError(() => parseGoJson('['.repeat(20_000) + ']'.repeat(20_000)), 'ERR_KES_INVALID_ARGUMENT', 'invalid JSON');
  });
});

describe('getField', () => {
  it('matches struct fields case-insensitively', () => {
    const v = parseGoJson('{"PlainText":"AA==","CONTEXT":"AQ=="}');
    expect(getField(v, 'plaintext')).toBe('AA==');
    expect(getField(v, 'context')).toBe('AQ==');
    expect(getField(v, 'missing')).toBeUndefined();
  });

  it('folds the Kelvin sign and long s like Go', () => {
    expect(getField(parseGoJson('{"\u212aey":1}'), 'key')).toBe(1);
    expect(getField(parseGoJson('{"me\u017f\u017fage":2}'), 'message')).toBe(2);
  });

  it('lets the last matching key in the document win (as Go assigns each in turn)', () => {
    expect(getField(parseGoJson('{"key":"a","KEY":"b"}'), 'key')).toBe('b');
    expect(getField(parseGoJson('{"KEY":"b","key":"a"}'), 'key')).toBe('a');
    expect(getField(parseGoJson('{"key":"a","KEY":"b","key":"c"}'), 'key')).toBe('c');
  });

  it('treats null as absent and non-objects as having no fields', () => {
    expect(getField(parseGoJson('{"key":null}'), 'key')).toBeUndefined();
    expect(getField(null, 'key')).toBeUndefined();
    expect(getField('key', 'key')).toBeUndefined();
    expect(getField([1], '0')).toBeUndefined();
  });
});

describe('formatTimestamp / parseTimestamp', () => {
  it.each([
    [{ seconds: 1705055960, nanos: 886816000 }, 0, '2024-01-12T10:39:20.886816Z'],
    [{ seconds: 1705055960, nanos: 886816000 }, 60, '2024-01-12T11:39:20.886816+01:00'],
    [{ seconds: 1705055960, nanos: 0 }, -330, '2024-01-12T05:09:20-05:30'],
    [{ seconds: -62135596800, nanos: 0 }, 0, '0001-01-01T00:00:00Z'],
    [{ seconds: 0, nanos: 0 }, 0, '1970-01-01T00:00:00Z'],
    [{ seconds: 0, nanos: 1 }, 0, '1970-01-01T00:00:00.000000001Z'],
    [{ seconds: 1, nanos: 500000000 }, 0, '1970-01-01T00:00:01.5Z'],
    [{ seconds: 951782400, nanos: 0 }, 0, '2000-02-29T00:00:00Z'],
    [{ seconds: 253402300799, nanos: 999999999 }, 0, '9999-12-31T23:59:59.999999999Z'],
  ])('formats %j at offset %i as %s', (ts, off, want) => {
    expect(formatTimestamp(ts, off)).toBe(want);
    const back = parseTimestamp(want);
    expect(back).toEqual({ seconds: ts.seconds, nanos: ts.nanos, utcOffsetMinutes: off });
  });

  it('defaults to UTC', () => {
    expect(formatTimestamp({ seconds: 1258894800, nanos: 0 })).toBe('2009-11-22T13:00:00Z');
  });

  it('rejects years Go cannot marshal', () => {
    expectKesError(
      () => formatTimestamp({ seconds: 253402300800, nanos: 0 }),
      'ERR_KES_INVALID_ARGUMENT',
      'timestamp year outside of range [0,9999]',
    );
  });

  it('parses +00:00 as a zero offset and truncates beyond nanoseconds', () => {
    expect(parseTimestamp('2009-11-10T23:00:00+00:00')).toEqual({ seconds: 1257894000, nanos: 0, utcOffsetMinutes: 0 });
    expect(parseTimestamp('1970-01-01T00:00:00.1234567891Z').nanos).toBe(123456789);
  });

  it.each(['', '2024-01-12', '2024-01-12 10:39:20Z', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-12T24:00:00Z', '2024-01-12T10:39:20', '2024-01-12T10:39:20+1:00', '2024-01-12T10:39:20.Z'])(
    'rejects %j',
    (s) => {
      expectKesError(() => parseTimestamp(s), 'ERR_KES_INVALID_ARGUMENT', 'invalid RFC 3339 timestamp');
    },
  );
});

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['5m30s', 330_000],
    ['1h2m3s4ms5us6ns', 3_723_004.005006],
    ['10s', 10_000],
    ['-1.5s', -1_500],
    ['.5s', 500],
    ['1.s', 1_000],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['100μs', 0.1],
    ['1ns', 0.000001],
    ['1.5ns', 0.000001], // Go truncates the fraction of a nanosecond
    ['0.000000001s', 0.000001],
    ['2562047h', 9_223_369_200_000],
  ])('parses %j as %d ms', (s, ms) => {
    expect(parseDuration(s)).toBeCloseTo(ms, 9);
  });

  it.each(['', '1', 's', '.s', '1x', '1 s', '--1s', '1h-1m', '9223372036854775808ns', '2562048h', '1.5.5s'])('rejects %j', (s) => {
    expectKesError(() => parseDuration(s), 'ERR_KES_INVALID_ARGUMENT', `invalid duration ${JSON.stringify(s)}`);
  });
});
