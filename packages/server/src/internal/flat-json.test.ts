import { describe, expect, it } from 'vitest';
import { getField, parseGoJson } from '@kes/core/wire';
import { flatObject } from './flat-json.js';

const FIELDS = ['plaintext', 'ciphertext', 'context', 'version', 'message', 'key', 'cipher', 'a', 'b', '__proto__'];

/** Every field a handler could look up must read the same through the fast path and the Go-JSON reader. */
function expectSameAsReader(body: string): void {
  const fast = flatObject(body);
  expect(fast).toBeDefined();
  expect(Object.getPrototypeOf(fast)).toBeNull();
  const slow = parseGoJson(body);
  for (const f of FIELDS) expect(getField(fast, f)).toStrictEqual(getField(slow, f));
  expect(Object.keys(fast as object).sort()).toStrictEqual(Object.keys(slow as object).sort());
}

describe('flatObject (fast path for request bodies)', () => {
  it.each([
    '{}',
    ' \t\r\n{"plaintext":"aGVsbG8=","context":"Y3R4"}\n',
    '{"Plaintext":"aGVsbG8="}',
    '{"ciphertext":null,"version":"v1","n":1.5e3,"t":true,"f":false}',
    '{"a":"x:y,z","b":":"}', // `:` inside strings are not members
    '{"__proto__":"x"}',
    '{"message":"ünïcödé ☃ \u2028"}',
  ])('agrees with the Go-JSON reader on %j', (body) => {
    expectSameAsReader(body);
  });

  it('does not touch Object.prototype for a __proto__ key', () => {
    const o = flatObject('{"__proto__":{"polluted":1}}');
    expect(o).toBeUndefined(); // nested value: the reader decides
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(flatObject('{"__proto__":"x"}') as object, '__proto__')).toBe(true);
  });

  it.each([
    ['an escape', '{"plaintext":"a\\u0041"}'],
    ['a lone surrogate escape', '{"version":"\\ud800"}'],
    ['trailing data after the first value', '{"plaintext":"AA=="} trailing'],
    ['two values', '{"a":"1"}{"a":"2"}'],
    ['a byte-order mark', '\ufeff{"a":"1"}'],
    ['a nested object', '{"context":{}}'],
    ['a nested array', '{"message":[1]}'],
    ['keys that fold to the same field', '{"PlainText":"eHl6","plaintext":"YWJj"}'],
    ['a key written twice (Go assigns both in order)', '{"plaintext":5,"b":"2","plaintext":"AAAA"}'],
    ['a non-ASCII key', '{"ſ":"1"}'],
    ['too many keys', `{${Array.from({ length: 9 }, (_, i) => `"k${i}":1`).join(',')}}`],
    ['null', 'null'],
    ['an array', '[]'],
    ['a string', '"str"'],
    ['invalid JSON', '{'],
    ['empty input', ''],
  ])('leaves %s to the Go-JSON reader', (_what, body) => {
    expect(flatObject(body)).toBeUndefined();
  });
});
