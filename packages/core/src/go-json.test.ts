import { describe, expect, it } from 'vitest';
import { assignGoJsonFields, decodeGoJsonStruct, errorBody, getField, goJsonString, parseGoJson } from './go-json.js';
import { expectKesErrorSync as expectKesError, loadVectors } from '../../../test/support/index.js';

const vectors = loadVectors();

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

describe('decodeGoJsonStruct (Go json.Decoder into a request struct)', () => {
  const ENCRYPT = { plaintext: 'bytes', context: 'bytes', version: 'string' } as const;
  const IMPORT = { key: 'bytes', cipher: 'string' } as const;
  const bytes = (v: Uint8Array | undefined): number[] | undefined => (v === undefined ? undefined : [...v]);

  it('accepts a byte field as a JSON array of numbers 0–255 (null elements are 0)', () => {
    expect(bytes(decodeGoJsonStruct('{"plaintext":[104,105]}', ENCRYPT).plaintext)).toEqual([104, 105]);
    expect(bytes(decodeGoJsonStruct('{"plaintext":[0,255,null]}', ENCRYPT).plaintext)).toEqual([0, 255, 0]);
    expect(bytes(decodeGoJsonStruct('{"plaintext":[]}', ENCRYPT).plaintext)).toEqual([]);
    for (const bad of ['[256]', '[-1]', '[-0]', '[1.0]', '[1e0]', '["1"]', '[true]', '[[1]]', '[{}]']) {
      expectKesError(
        () => decodeGoJsonStruct(`{"plaintext":${bad}}`, ENCRYPT),
        'ERR_KES_INVALID_ARGUMENT',
        "invalid JSON: wrong type or encoding for field 'plaintext'",
      );
    }
  });

  it('assigns duplicates in order: an invalid earlier one fails even if a later one is valid', () => {
    expectKesError(
      () => decodeGoJsonStruct('{"plaintext":5,"plaintext":"AAAA"}', ENCRYPT),
      'ERR_KES_INVALID_ARGUMENT',
      "invalid JSON: wrong type or encoding for field 'plaintext'",
    );
    expectKesError(
      () => decodeGoJsonStruct('{"Plaintext":"a-_b","plaintext":"AAAA"}', ENCRYPT),
      'ERR_KES_INVALID_ARGUMENT',
      "invalid JSON: wrong type or encoding for field 'plaintext'",
    );
    expect(bytes(decodeGoJsonStruct('{"plaintext":"AQ==","PLAINTEXT":"Ag=="}', ENCRYPT).plaintext)).toEqual([2]);
  });

  it('null leaves a string field as it was and empties a byte field', () => {
    expect(decodeGoJsonStruct('{"cipher":"AES256","cipher":null}', IMPORT)).toEqual({ cipher: 'AES256' });
    expect(decodeGoJsonStruct('{"plaintext":"AQ==","plaintext":null}', ENCRYPT)).toEqual({});
    expect(decodeGoJsonStruct('null', ENCRYPT)).toEqual({});
  });

  it('matches an exact field name first, then case-insensitively (Kelvin sign too); ignores unknown keys', () => {
    const v = decodeGoJsonStruct('{"\u212aey":"AQ==","x":{"y":[1,2]},"Cipher":"ChaCha20"}', IMPORT);
    expect({ key: bytes(v.key), cipher: v.cipher }).toEqual({ key: [1], cipher: 'ChaCha20' });
  });

  it('refuses non-objects, syntax errors anywhere in the first value, and wrong types', () => {
    for (const body of ['[]', '"s"', '1', 'true']) {
      expectKesError(() => decodeGoJsonStruct(body, ENCRYPT), 'ERR_KES_INVALID_ARGUMENT', 'invalid JSON: not an object');
    }
    for (const body of ['', '{', '{"x":[1,]}', '{"plaintext":"AA=="']) {
      expectKesError(() => decodeGoJsonStruct(body, ENCRYPT), 'ERR_KES_INVALID_ARGUMENT', 'invalid JSON');
    }
    expectKesError(
      () => decodeGoJsonStruct('{"version":1}', ENCRYPT),
      'ERR_KES_INVALID_ARGUMENT',
      "invalid JSON: wrong type or encoding for field 'version'",
    );
    expect(decodeGoJsonStruct('{"version":"v1"} trailing ]]', ENCRYPT)).toEqual({ version: 'v1' });
  });

  it('assigns members parsed elsewhere with the same rules (JSON.parse numbers as plain numbers)', () => {
    const v = assignGoJsonFields(Object.entries(JSON.parse('{"Cipher":"AES256","key":"AQ=="}')), IMPORT);
    expect({ key: bytes(v.key), cipher: v.cipher }).toEqual({ key: [1], cipher: 'AES256' });
    expect(bytes(assignGoJsonFields([['key', [1, 2, null]]], IMPORT).key)).toEqual([1, 2, 0]);
    expectKesError(
      () => assignGoJsonFields([['key', [1.5]]], IMPORT),
      'ERR_KES_INVALID_ARGUMENT',
      "invalid JSON: wrong type or encoding for field 'key'",
    );
  });
});

describe('goJsonString', () => {
  it('writes a lone surrogate (a byte that was not UTF-8) as \\ufffd and a real U+FFFD as the character', () => {
    expect(goJsonString('a\udcffb')).toBe('"a\\ufffdb"');
    expect(goJsonString('\udce2\udc82<')).toBe('"\\ufffd\\ufffd\\u003c"');
    expect(goJsonString('\ufffd')).toBe('"\ufffd"');
    expect(goJsonString('😀')).toBe('"😀"');
  });
});

describe('errorBody', () => {
  it('renders error bodies byte-exactly', () => {
    for (const c of vectors.error_body_bytes.cases as { body_text: string; content_length?: number }[]) {
      const message = JSON.parse(c.body_text).message as string;
      const body = errorBody(message);
      expect(body).toBe(c.body_text);
      if (c.content_length !== undefined) expect(Buffer.byteLength(body)).toBe(c.content_length);
    }
  });
});
