/**
 * Encoding helpers with Go semantics (kes-protocol.md §3.1, §3.2): strict standard
 * base64, Go JSON decoding, Go `time.Time` JSON timestamps and Go durations.
 *
 * A KES-compatible server must accept and reject exactly what the Go server does,
 * so none of these use the lenient JavaScript built-ins directly.
 */
import { Buffer } from 'node:buffer';
import { KesError } from './errors.js';
import { GoJsonSyntaxError, isJsonObject, jsonText, lookupField, readFirstValue } from './internal/go-json.js';

// ---------------------------------------------------------------------------
// Base64

/**
 * Canonical padded standard base64 (without CR/LF): alphabet characters, then at most
 * two `=`; with the length a multiple of 4 this is exactly "padding only at the end".
 * A single native regex scan is about twice as fast as a JavaScript loop on the 1–2 KB
 * fields of hot requests.
 */
const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True if `s` (without CR/LF) is canonical padded standard base64. */
function isStdBase64(s: string): boolean {
  return s.length % 4 === 0 && STD_BASE64.test(s); // URL-safe chars, misplaced '=', junk → false
}

function invalidBase64(): KesError {
  // Never echo the input: it may be key material.
  return new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid base64 encoding']);
}

/**
 * Decodes standard, padded base64 exactly like Go's `base64.StdEncoding`:
 * `\r` and `\n` anywhere are ignored; URL-safe characters, missing or misplaced
 * padding and any other character are errors.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid base64 encoding`); the input is never echoed.
 * @example
 * decodeBase64Strict('AAE='); // Uint8Array [0, 1]
 */
export function decodeBase64Strict(s: string): Uint8Array {
  if (typeof s !== 'string') throw invalidBase64();
  let t = s;
  if (t.includes('\n') || t.includes('\r')) t = t.replace(/[\r\n]/g, '');
  if (!isStdBase64(t)) throw invalidBase64();
  return Buffer.from(t, 'base64');
}

/**
 * Encodes bytes as standard, padded base64 (Go `base64.StdEncoding`).
 *
 * @example
 * encodeBase64(new Uint8Array([0, 1])); // 'AAE='
 */
export function encodeBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

// ---------------------------------------------------------------------------
// JSON

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

// ---------------------------------------------------------------------------
// Timestamps

/** A point in time as seconds and nanoseconds since the Unix epoch (protobuf `Timestamp`). */
export interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

/** A parsed RFC 3339 time: the instant plus the UTC offset it was written with. */
export interface ParsedTimestamp extends Timestamp {
  readonly utcOffsetMinutes: number;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1–12). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil. */
function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Formats a timestamp like Go's `time.Time` JSON encoding: RFC 3339 with up to nine
 * fractional digits (trailing zeros trimmed), `Z` for a zero offset, else `±hh:mm`.
 * The zero Go time is `{ seconds: -62135596800, nanos: 0 }` → `0001-01-01T00:00:00Z`.
 *
 * @param utcOffsetMinutes - the zone offset to render in (default 0 = UTC).
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` if the year falls outside 0000–9999 (Go refuses too).
 * @example
 * formatTimestamp({ seconds: 1705055960, nanos: 886816000 }); // '2024-01-12T10:39:20.886816Z'
 */
export function formatTimestamp(ts: Timestamp, utcOffsetMinutes = 0): string {
  const nanos = Math.trunc(ts.nanos);
  // Normalise so that 0 <= nanos < 1e9 (a protobuf Timestamp may carry either sign).
  const carry = Math.floor(nanos / 1e9);
  const ns = nanos - carry * 1e9;
  const local = Math.trunc(ts.seconds) + carry + Math.trunc(utcOffsetMinutes) * 60;
  const days = Math.floor(local / 86400);
  const sod = local - days * 86400;
  const [y, mo, d] = civilFromDays(days);
  if (y < 0 || y > 9999) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['timestamp year outside of range [0,9999]']);
  let out = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(Math.floor(sod / 3600), 2)}:${pad(Math.floor((sod % 3600) / 60), 2)}:${pad(sod % 60, 2)}`;
  if (ns !== 0) out += `.${pad(ns, 9).replace(/0+$/, '')}`;
  const off = Math.trunc(utcOffsetMinutes);
  if (off === 0) return `${out}Z`;
  const a = Math.abs(off);
  return `${out}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60), 2)}:${pad(a % 60, 2)}`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function daysIn(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Parses an RFC 3339 time the way Go's `time.Time` JSON decoding does (e.g.
 * `2024-01-12T11:39:20.886816+01:00`); more than nine fractional digits are truncated.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid RFC 3339 timestamp`).
 * @example
 * parseTimestamp('1970-01-01T00:00:01.5Z'); // { seconds: 1, nanos: 500000000, utcOffsetMinutes: 0 }
 */
export function parseTimestamp(s: string): ParsedTimestamp {
  const m = typeof s === 'string' ? RFC3339.exec(s) : null;
  const bad = () => new KesError('ERR_KES_INVALID_ARGUMENT', ['invalid RFC 3339 timestamp']);
  if (m === null) throw bad();
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || se > 59) throw bad();
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw bad();
    offset = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
  }
  const nanos = m[7] === undefined ? 0 : Number(m[7].slice(0, 9).padEnd(9, '0'));
  const seconds = daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset * 60;
  return { seconds, nanos, utcOffsetMinutes: offset };
}

// ---------------------------------------------------------------------------
// Durations

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek small mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;

/**
 * Parses a Go duration string (`time.ParseDuration`: `300ms`, `1.5h`, `5m30s`, `-1h`,
 * `0`; units ns, us, µs, ms, s, m, h) and returns milliseconds (possibly fractional).
 * Arithmetic follows Go exactly (nanosecond integer, fractions truncated, int64 range).
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` (`invalid duration "<s>"`).
 * @example
 * parseDuration('1m30s'); // 90000
 */
export function parseDuration(s: string): number {
  const bad = () => new KesError('ERR_KES_INVALID_ARGUMENT', [`invalid duration ${JSON.stringify(String(s))}`]);
  if (typeof s !== 'string') throw bad();
  let i = 0;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    i = 1;
  }
  if (s.slice(i) === '0') return 0;
  if (i === s.length) throw bad();
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  let total = 0n;
  while (i < s.length) {
    // Leading integer.
    let start = i;
    let v = 0n;
    while (isDigit(s[i])) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX_NS) throw bad();
      i++;
    }
    const pre = i !== start;
    // Optional fraction.
    let f = 0n;
    let scale = 1n;
    let post = false;
    if (s[i] === '.') {
      i++;
      start = i;
      let overflow = false;
      while (isDigit(s[i])) {
        if (!overflow) {
          if (f > MAX_NS / 10n) overflow = true; // Go stops accumulating precision here
          else {
            f = f * 10n + BigInt(s.charCodeAt(i) - 48);
            scale *= 10n;
          }
        }
        i++;
      }
      post = i !== start;
    }
    if (!pre && !post) throw bad();
    // Unit: everything up to the next '.' or digit.
    start = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unit = UNIT_NS[s.slice(start, i)];
    if (unit === undefined) throw bad();
    if (v > MAX_NS / unit) throw bad();
    v *= unit;
    if (f > 0n) {
      // Go: v += int64(float64(f) * (float64(unit) / scale)), truncated.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / Number(scale))));
      if (v > MAX_NS) throw bad();
    }
    total += v;
    if (total > MAX_NS) throw bad();
  }
  const ns = neg ? -total : total;
  return Number(ns) / 1e6;
}
