/**
 * RFC 3339 timestamps with Go semantics (kes-protocol.md §3.2): how Go's `time.Time`
 * is written to and read from JSON (`created_at` of keys, log and audit records).
 */
import { KesError } from './errors.js';

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
