/**
 * A small JSON reader with Go `encoding/json` semantics (kes-protocol.md §3.1).
 *
 * Why not `JSON.parse`: Go's `json.Decoder` reads only the FIRST value of a body and
 * ignores what follows, Go never accepts a byte-order mark, lone surrogate escapes
 * become U+FFFD, and duplicate keys must be kept in "last occurrence" order so that
 * case-insensitive field lookup can pick the key Go would have assigned last.
 *
 * Objects are returned with a null prototype, so a `__proto__` key in a request body
 * is plain data and can never reach `Object.prototype` (prototype pollution).
 */

/** Thrown (internally) for any syntax error; callers map it to a KesError. */
export class GoJsonSyntaxError extends Error {
  constructor() {
    super('invalid JSON');
    this.name = 'GoJsonSyntaxError';
  }
}

/** Go's decoder refuses nesting deeper than this. */
const MAX_DEPTH = 10_000;

// Non-fatal: Go replaces invalid UTF-8 inside strings with U+FFFD; outside strings the
// replacement character is not valid JSON syntax, so both paths fail the same way Go does.
// ignoreBOM keeps a leading BOM in the text, where it is (as in Go) a syntax error.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Decodes bytes to text the way Go sees them (see above). */
export function jsonText(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : utf8.decode(input);
}

/** A plain JSON object as produced by this reader (null prototype). */
export type GoJsonObject = Record<string, unknown>;

/**
 * A JSON number as written, produced instead of a `number` when a struct is decoded
 * (`readFirstMembers`): Go reads `1.0`, `1e2` or `-0` into an integer field as an error,
 * which the parsed number alone cannot tell.
 */
export class GoJsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** True for JSON whitespace (Go: space, tab, LF, CR). */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Index of the first non-whitespace character at or after `i`. */
function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

// Characters of a string body that need no special treatment.
const PLAIN = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Reader {
  readonly s: string;
  i: number;
  depth = 0;
  /** Numbers as {@link GoJsonNumber} (struct decoding) instead of `number`. */
  readonly rawNumbers: boolean;

  constructor(s: string, i: number, rawNumbers = false) {
    this.s = s;
    this.i = i;
    this.rawNumbers = rawNumbers;
  }

  value(): unknown {
    const s = this.s;
    this.i = skipSpace(s, this.i);
    const c = s.charCodeAt(this.i);
    switch (c) {
      case 0x7b /* { */:
        return this.object();
      case 0x5b /* [ */:
        return this.array();
      case 0x22 /* " */:
        return this.string();
      case 0x74 /* t */:
        return this.literal('true', true);
      case 0x66 /* f */:
        return this.literal('false', false);
      case 0x6e /* n */:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw new GoJsonSyntaxError();
    }
  }

  literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) throw new GoJsonSyntaxError();
    this.i += word.length;
    return v;
  }

  number(): number | GoJsonNumber {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (m === null || m[0].length === 0 || m[0] === '-') throw new GoJsonSyntaxError();
    this.i += m[0].length;
    return this.rawNumbers ? new GoJsonNumber(m[0]) : Number(m[0]);
  }

  string(): string {
    const s = this.s;
    let i = this.i + 1; // after the opening quote
    let out = '';
    for (;;) {
      PLAIN.lastIndex = i;
      PLAIN.exec(s);
      const j = PLAIN.lastIndex;
      if (j > i) out += s.slice(i, j);
      i = j;
      if (i >= s.length) throw new GoJsonSyntaxError();
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out;
      }
      if (c !== 0x5c) throw new GoJsonSyntaxError(); // a raw control character
      const e = s.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const u = this.hex4(i);
          i += 4;
          if (u >= 0xd800 && u < 0xdc00) {
            // A high surrogate combines only with an escaped low surrogate (Go: else U+FFFD).
            if (s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75) {
              const lo = this.hex4(i + 2);
              if (lo >= 0xdc00 && lo < 0xe000) {
                out += String.fromCharCode(u, lo);
                i += 6;
                break;
              }
            }
            out += '\ufffd';
          } else if (u >= 0xdc00 && u < 0xe000) {
            out += '\ufffd';
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          throw new GoJsonSyntaxError();
      }
    }
  }

  hex4(i: number): number {
    const h = this.s.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new GoJsonSyntaxError();
    return parseInt(h, 16);
  }

  object(): GoJsonObject {
    const obj: GoJsonObject = Object.create(null) as GoJsonObject;
    this.members((key, v) => {
      // Last wins, and re-inserting keeps the key at its LAST position (see getField).
      if (key in obj) delete obj[key];
      obj[key] = v;
    });
    return obj;
  }

  /** Reads an object (at `{`), handing each member to `onMember` in document order, duplicates included. */
  members(onMember: (key: string, value: unknown) => void): void {
    if (++this.depth > MAX_DEPTH) throw new GoJsonSyntaxError();
    const s = this.s;
    this.i = skipSpace(s, this.i + 1);
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      this.depth--;
      return;
    }
    for (;;) {
      this.i = skipSpace(s, this.i);
      if (s.charCodeAt(this.i) !== 0x22) throw new GoJsonSyntaxError();
      const key = this.string();
      this.i = skipSpace(s, this.i);
      if (s.charCodeAt(this.i) !== 0x3a) throw new GoJsonSyntaxError();
      this.i++;
      onMember(key, this.value());
      this.i = skipSpace(s, this.i);
      const c = s.charCodeAt(this.i++);
      if (c === 0x2c) continue;
      if (c === 0x7d) break;
      throw new GoJsonSyntaxError();
    }
    this.depth--;
  }

  array(): unknown[] {
    if (++this.depth > MAX_DEPTH) throw new GoJsonSyntaxError();
    const s = this.s;
    const arr: unknown[] = [];
    this.i = skipSpace(s, this.i + 1);
    if (s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      this.depth--;
      return arr;
    }
    for (;;) {
      arr.push(this.value());
      this.i = skipSpace(s, this.i);
      const c = s.charCodeAt(this.i++);
      if (c === 0x2c) continue;
      if (c === 0x5d) break;
      throw new GoJsonSyntaxError();
    }
    this.depth--;
    return arr;
  }
}

/**
 * Reads the first JSON value of `text` (leading whitespace skipped).
 * Returns the value and the index just after it.
 *
 * @throws GoJsonSyntaxError on empty input or a syntax error inside the first value.
 */
export function readFirstValue(text: string): { value: unknown; end: number } {
  const r = new Reader(text, 0);
  try {
    const value = r.value();
    return { value, end: r.i };
  } catch (e) {
    // Stack exhaustion on absurd nesting is a syntax error too, never a crash.
    if (e instanceof GoJsonSyntaxError || e instanceof RangeError) throw new GoJsonSyntaxError();
    throw e;
  }
}

/** What Go's decoder finds as the first value of a body decoded into a struct. */
export type FirstStructValue =
  /** An object: its members in document order, duplicates included, numbers as {@link GoJsonNumber}. */
  | { readonly kind: 'object'; readonly members: readonly (readonly [string, unknown])[] }
  /** `null`: the struct is left as it is. */
  | { readonly kind: 'null' }
  /** Any other (syntactically valid) value: a type error for a struct. */
  | { readonly kind: 'other' };

/**
 * Reads the first JSON value of `text` for decoding into a Go struct: the whole value is
 * checked for syntax (as Go does before assigning anything), and an object's members are
 * kept in order with duplicates, because Go assigns each of them in turn.
 *
 * @throws GoJsonSyntaxError on empty input or a syntax error inside the first value.
 */
export function readFirstMembers(text: string): FirstStructValue {
  const r = new Reader(text, skipSpace(text, 0), true);
  try {
    if (text.charCodeAt(r.i) === 0x7b) {
      const members: [string, unknown][] = [];
      r.members((key, value) => members.push([key, value]));
      return { kind: 'object', members };
    }
    return r.value() === null ? { kind: 'null' } : { kind: 'other' };
  } catch (e) {
    if (e instanceof GoJsonSyntaxError || e instanceof RangeError) throw new GoJsonSyntaxError();
    throw e;
  }
}

/**
 * Parses `text` as exactly one JSON value surrounded only by whitespace, like Go's
 * `json.Unmarshal` / `json.Valid`.
 *
 * @throws GoJsonSyntaxError when the text is not a single valid JSON value.
 */
export function readWholeValue(text: string): unknown {
  const { value, end } = readFirstValue(text);
  if (skipSpace(text, end) !== text.length) throw new GoJsonSyntaxError();
  return value;
}

/** True for a JSON object produced by this reader (or any plain non-array object). */
export function isJsonObject(v: unknown): v is GoJsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Simple case folding close to Go's `foldName`: each code point maps to the lower
 * case of its upper case (so the Kelvin sign K matches `k` and `ſ` matches `s`),
 * unless that would change the number of code points.
 */
export function foldName(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const f = ch.toUpperCase().toLowerCase();
    out += [...f].length === 1 ? f : ch;
  }
  return out;
}

/**
 * Go struct-field lookup of `name` in a decoded object: every key that equals
 * `name` case-insensitively maps to the same Go field, so the one that occurs
 * LAST in the document wins (the reader keeps keys in last-occurrence order).
 */
export function lookupField(obj: GoJsonObject, name: string): unknown {
  let found: unknown;
  let folded: string | undefined;
  for (const k of Object.keys(obj)) {
    if (k === name) {
      found = obj[k];
      continue;
    }
    folded ??= foldName(name);
    if (foldName(k) === folded) found = obj[k];
  }
  return found;
}
