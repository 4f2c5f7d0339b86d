/**
 * JSON with Go `encoding/json` semantics (kes-protocol.md §3.1–§3.3): reading request
 * bodies the way Go's `json.Decoder` does, and writing strings and error bodies byte
 * for byte as the Go server does. The reader itself is in `internal/go-json-reader.ts`.
 */
import { decodeBase64Strict } from './base64.js';
import { KesError } from './errors.js';
import {
  GoJsonNumber,
  GoJsonSyntaxError,
  foldName,
  isJsonObject,
  jsonText,
  lookupField,
  readFirstMembers,
  readFirstValue,
} from './internal/go-json-reader.js';

/**
 * Decodes the first JSON value of a request body like Go's `json.Decoder.Decode`:
 * leading whitespace is skipped, whatever follows the first complete value is
 * ignored, duplicate object keys keep the last value. Objects have a null prototype.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid JSON`) for empty, whitespace-only or malformed input.
 * @example
 * parseGoJson('{"a":1} trailing'); // { a: 1 }
 */
export function parseGoJson(input: string | Uint8Array): unknown {
  try {
    return readFirstValue(jsonText(input)).value;
  } catch (e) {
    if (e instanceof GoJsonSyntaxError) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid JSON']);
    throw e;
  }
}

/**
 * Looks up a Go struct field in a decoded JSON object: keys match `name`
 * case-insensitively, and when several keys match (e.g. `"key"` and `"KEY"`) the
 * one that occurs last in the document wins, as it does in Go (each of them is
 * assigned to the same field in turn). JSON `null` and absent keys give `undefined`,
 * as does a non-object `obj`.
 *
 * @example
 * getField(parseGoJson('{"Plaintext":"AA=="}'), 'plaintext'); // 'AA=='
 */
export function getField(obj: unknown, name: string): unknown {
  if (!isJsonObject(obj)) return undefined;
  const v = lookupField(obj, name);
  return v === null ? undefined : v;
}

/** The Go type of a struct field, for {@link decodeGoJsonStruct}: `[]byte` or `string`. */
export type GoFieldType = 'bytes' | 'string';

/** The decoded fields of a struct: `Uint8Array` for `bytes`, `string` for `string`, absent when not set. */
export type GoStructValues<F extends Readonly<Record<string, GoFieldType>>> = {
  -readonly [K in keyof F]?: F[K] extends 'bytes' ? Uint8Array : string;
};

function invalidJson(detail?: string): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [detail === undefined ? 'invalid JSON' : `invalid JSON: ${detail}`]);
}

/**
 * Decodes the first JSON value of a request body into a Go struct with the given fields,
 * as `json.Decoder.Decode(&request)` does (kes-protocol.md §3.1):
 * - the whole first value must be valid JSON, whatever follows it is ignored;
 * - `null` leaves the struct empty; any other non-object is an error;
 * - members are assigned in document order: a key matches a field exactly or, failing
 *   that, case-insensitively; unknown keys are ignored; a later duplicate overwrites an
 *   earlier one, but an invalid earlier one still fails the decoding;
 * - a `bytes` field takes padded standard base64, or an array of integers 0–255 (`null`
 *   elements are 0), and `null` resets it; a `string` field takes a string, and `null`
 *   leaves it as it was.
 *
 * Decoded byte buffers that are overwritten or dropped (on failure) are zeroed.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid JSON…`) for a syntax error, a
 *   non-object, or a value of the wrong type or encoding; messages name the field, never its value.
 * @example
 * decodeGoJsonStruct('{"Plaintext":[104,105],"version":null}', { plaintext: 'bytes', version: 'string' });
 * // { plaintext: Uint8Array [104, 105] }
 */
export function decodeGoJsonStruct<const F extends Readonly<Record<string, GoFieldType>>>(input: string | Uint8Array, fields: F): GoStructValues<F> {
  let first;
  try {
    first = readFirstMembers(jsonText(input));
  } catch (e) {
    if (e instanceof GoJsonSyntaxError) throw invalidJson();
    throw e;
  }
  if (first.kind === 'null') return {};
  if (first.kind === 'other') throw invalidJson('not an object');
  return assignGoJsonFields(first.members, fields);
}

/**
 * The assignment half of {@link decodeGoJsonStruct}, for members that were already parsed
 * (in document order). Numbers may be plain `number`s (e.g. from `JSON.parse`, which loses
 * how they were written: inside a byte array `1.0` then passes where Go refuses it).
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` as {@link decodeGoJsonStruct}.
 * @example
 * assignGoJsonFields(Object.entries(JSON.parse('{"cipher":"AES256"}')), { key: 'bytes', cipher: 'string' });
 */
export function assignGoJsonFields<const F extends Readonly<Record<string, GoFieldType>>>(
  members: Iterable<readonly [string, unknown]>,
  fields: F,
): GoStructValues<F> {
  const names = Object.keys(fields);
  const folded = names.map(foldName);
  const out: Record<string, Uint8Array | string> = {};
  let failed: string | undefined;
  for (const [key, value] of members) {
    // Go: the field with exactly this name, else the first whose name folds to the same.
    let name = Object.hasOwn(fields, key) ? key : undefined;
    if (name === undefined) {
      const i = folded.indexOf(foldName(key));
      if (i < 0) continue;
      name = names[i] as string;
    }
    const previous = out[name];
    if (fields[name] === 'string') {
      if (typeof value === 'string') out[name] = value;
      else if (value !== null) failed ??= name; // null: left as it was
      continue;
    }
    let bytes: Uint8Array | undefined;
    if (typeof value === 'string') {
      try {
        bytes = decodeBase64Strict(value);
      } catch {
        failed ??= name;
      }
    } else if (Array.isArray(value)) {
      bytes = byteArray(value);
      if (bytes === undefined) failed ??= name;
    } else if (value !== null) {
      failed ??= name;
    }
    if (bytes === undefined && value !== null) continue;
    if (previous instanceof Uint8Array) previous.fill(0);
    if (bytes === undefined)
      delete out[name]; // null resets a byte slice
    else out[name] = bytes;
  }
  if (failed !== undefined) {
    for (const v of Object.values(out)) if (v instanceof Uint8Array) v.fill(0);
    throw invalidJson(`wrong type or encoding for field '${failed}'`);
  }
  return out as GoStructValues<F>;
}

const UINT8_TEXT = /^(?:0|[1-9][0-9]{0,2})$/;

/** A JSON array of integers 0–255 as bytes (`null` elements are 0), or `undefined` if any element is not one. */
function byteArray(values: readonly unknown[]): Uint8Array | undefined {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const n = v instanceof GoJsonNumber ? (UINT8_TEXT.test(v.text) ? Number(v.text) : -1) : Number.isInteger(v) ? (v as number) : -1;
    if (n < 0 || n > 255) {
      out.fill(0); // the bytes read so far may be a plaintext
      return undefined;
    }
    out[i] = n;
  }
  return out;
}

/** A UTF-16 surrogate without its partner. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

function goEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * JSON-encodes a string the way Go's `encoding/json` does: as `JSON.stringify`, and
 * `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, … (§3.2). A lone surrogate is
 * written `\ufffd`, as Go writes each byte that is not UTF-8: that is how kes-ts carries
 * such bytes of a request path (a valid U+FFFD is written as it is, like Go).
 *
 * @example
 * goJsonString('a<b'); // '"a\\u003cb"'
 */
export function goJsonString(s: string): string {
  if (!LONE_SURROGATE.test(s)) return goEscape(JSON.stringify(s));
  return `"${s
    .split(LONE_SURROGATES)
    .map((part) => goEscape(JSON.stringify(part)).slice(1, -1))
    .join('\\ufffd')}"`;
}

/**
 * The wire body of an error reply: `{"message":"…"\n}` with Go's JSON escaping (§3.3;
 * a newline precedes the closing brace, as upstream writes it).
 *
 * @example
 * errorBody('key does not exist'); // '{"message":"key does not exist"\n}'
 */
export function errorBody(message: string): string {
  return `{"message":${goJsonString(message)}\n}`;
}
