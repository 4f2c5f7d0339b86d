/**
 * Go durations (`time.ParseDuration`): the text form of every timeout and expiry in a
 * KES config file and on the command line (`5m`, `1h30m`, `300ms`), parsed exactly as
 * the Go server parses it so that one config file means the same to both.
 */
import { KesError } from './errors.js';

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek small mu
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
          if (f > MAX_NS / 10n)
            overflow = true; // Go stops accumulating precision here
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
