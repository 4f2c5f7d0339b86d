/**
 * A fast path for request bodies (spec §3.1): the common body is one small flat JSON
 * object, and the native `JSON.parse` reads it several times faster than the Go-JSON
 * reader of `@kes/core`. It is taken only where both must agree.
 */

/**
 * Most `:` and `,` characters a request body may hold: a bound on its object members and
 * array elements. A KES request has a handful of fields (a byte field sent as a JSON array of
 * numbers counts one per byte).
 * Threat: a 1 MB body of 90,000 tiny members (or 450,000 array elements) costs the JSON
 * readers 100–250 ms of one event loop, stalling every other request; base64 byte fields,
 * the bulk of a real body, contain neither character. Upstream decodes any such body.
 */
export const MAX_BODY_SEPARATORS = 1024;

/**
 * True if `text` has more than {@link MAX_BODY_SEPARATORS} `:` and `,` characters (counted
 * with `indexOf`, about 1 ms for 1 MB), so the body is refused before any JSON parsing.
 */
export function exceedsSeparatorBudget(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) if (++n > MAX_BODY_SEPARATORS) return true;
  for (let i = text.indexOf(','); i !== -1; i = text.indexOf(',', i + 1)) if (++n > MAX_BODY_SEPARATORS) return true;
  return false;
}

/**
 * The number of `:` outside strings: in a flat object without backslashes (every `"` opens
 * or closes a string) that is the number of members as written, duplicates included.
 * Strings are skipped with `indexOf`, so a long base64 value costs one native scan.
 */
function memberCount(text: string): number {
  let n = 0;
  let i = 0;
  for (;;) {
    const q = text.indexOf('"', i);
    const end = q < 0 ? text.length : q;
    for (let j = i; j < end; j++) if (text.charCodeAt(j) === 0x3a) n++;
    if (q < 0) return n;
    const close = text.indexOf('"', q + 1);
    if (close < 0) return n;
    i = close + 1;
  }
}

/** Bodies with more keys than this skip the fast path (see `flatObject`). */
const MAX_FAST_KEYS = 8;

// The same decoder the Go-JSON reader uses: invalid UTF-8 becomes U+FFFD, a BOM is kept (and is a syntax error).
export const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Fast path for the common request body: one flat JSON object of strings, numbers,
 * booleans and nulls, parsed natively. Returns `undefined` whenever the Go-JSON
 * reader could decide differently, and the caller then runs that reader:
 * - a backslash anywhere (escapes, lone surrogates → U+FFFD in Go);
 * - anything `JSON.parse` rejects (trailing data after the first value, BOM, nesting limits…);
 * - a nested object or array, or a top-level value that is not an object;
 * - two keys that fold to the same Go field name, a key written twice, or a non-ASCII key
 *   (Go assigns every occurrence in order, and an invalid earlier one fails the request:
 *   `JSON.parse` keeps only the last).
 * The result has a null prototype, like the reader's objects.
 */
export function flatObject(text: string): Record<string, unknown> | undefined {
  if (text.includes('\\')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length > MAX_FAST_KEYS) return undefined; // keeps the duplicate check below O(1) per key
  if (memberCount(text) !== keys.length) return undefined; // a key written twice
  const out = Object.create(null) as Record<string, unknown>;
  const folded: string[] = [];
  for (const k of keys) {
    const value = (v as Record<string, unknown>)[k];
    if (typeof value === 'object' && value !== null) return undefined;
    for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) > 0x7f) return undefined;
    const f = k.toLowerCase();
    if (folded.includes(f)) return undefined;
    folded.push(f);
    out[k] = value;
  }
  return out;
}
