/**
 * JSON with Go `encoding/json` semantics (kes-protocol.md §3.1–§3.3): reading request
 * bodies the way Go's `json.Decoder` does, and writing strings and error bodies byte
 * for byte as the Go server does. The reader itself is in `internal/go-json-reader.ts`.
 */
import { KesError } from './errors.js';
import { GoJsonSyntaxError, isJsonObject, jsonText, lookupField, readFirstValue } from './internal/go-json-reader.js';

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

/**
 * JSON-encodes a string the way Go's `encoding/json` does: as `JSON.stringify`, and
 * `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, … (§3.2).
 *
 * @example
 * goJsonString('a<b'); // '"a\\u003cb"'
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
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
