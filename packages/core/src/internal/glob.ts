/**
 * Shell-style glob matching with the semantics of Go's `path.Match`, which KES
 * v0.22.x used for policy patterns (kes-protocol.md §6.3). Written from the
 * documented grammar:
 *
 *   pattern  = { term }
 *   term     = '*'                          any run of non-'/' characters
 *            | '?'                          one non-'/' character
 *            | '[' [ '^' ] { range } ']'    a character class (at least one range)
 *            | c                            c itself (c not one of * ? [ \)
 *            | '\' c                        c itself
 *   range    = c | '\' c | lo '-' hi        (c not one of \ - ])
 *
 * The whole path must match. Characters are Unicode code points. A malformed pattern
 * never matches anything (upstream discarded the error and denied). A class may match
 * '/', as in Go; only '*' and '?' stop at '/'. An inverted range (`[z-a]`) is well
 * formed but matches nothing.
 *
 * Paths are compared as code points; Go compares bytes but decodes UTF-8 for `?` and
 * classes, which gives the same result for valid UTF-8.
 */

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'char'; readonly cp: number }
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: ReadonlyArray<readonly [number, number]> };

/** A compiled glob; `undefined` from {@link compileGlob} means the pattern is malformed. */
export interface CompiledGlob {
  /** The pattern as runs of single-character terms, each optionally preceded by a star. */
  readonly segments: ReadonlyArray<{ readonly star: boolean; readonly chunk: readonly Token[] }>;
  /** True if the pattern has no metacharacters: it matches only one literal path. */
  readonly literal: string | undefined;
}

const SLASH = 0x2f;

/** Compiles a pattern, or returns undefined if it is malformed. */
export function compileGlob(pattern: string): CompiledGlob | undefined {
  const cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  const tokens: Token[] = [];
  let literal = true;
  let i = 0;
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === 0x2a /* * */) {
      literal = false;
      // Consecutive stars are one star.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
      i++;
    } else if (c === 0x3f /* ? */) {
      literal = false;
      tokens.push({ kind: 'any' });
      i++;
    } else if (c === 0x5c /* \ */) {
      if (i + 1 >= cps.length) return undefined; // trailing backslash
      tokens.push({ kind: 'char', cp: cps[i + 1]! });
      i += 2;
    } else if (c === 0x5b /* [ */) {
      literal = false;
      i++;
      let negated = false;
      if (cps[i] === 0x5e /* ^ */) {
        negated = true;
        i++;
      }
      const ranges: Array<readonly [number, number]> = [];
      for (;;) {
        if (i >= cps.length) return undefined; // unterminated class
        if (cps[i] === 0x5d /* ] */ && ranges.length > 0) {
          i++;
          break;
        }
        const lo = classChar(cps, i);
        if (lo === undefined) return undefined;
        i = lo.next;
        let hi = lo.cp;
        if (cps[i] === 0x2d /* - */) {
          const h = classChar(cps, i + 1);
          if (h === undefined) return undefined;
          hi = h.cp;
          i = h.next;
        }
        ranges.push([lo.cp, hi]);
      }
      tokens.push({ kind: 'class', negated, ranges });
    } else {
      tokens.push({ kind: 'char', cp: c });
      i++;
    }
  }
  const segments: Array<{ star: boolean; chunk: Token[] }> = [];
  for (const t of tokens) {
    if (t.kind === 'star') segments.push({ star: true, chunk: [] });
    else if (segments.length === 0) segments.push({ star: false, chunk: [t] });
    else segments[segments.length - 1]!.chunk.push(t);
  }
  return {
    segments,
    literal: literal ? String.fromCodePoint(...tokens.map((t) => (t.kind === 'char' ? t.cp : 0))) : undefined,
  };
}

/** One (possibly escaped) class character at `i`; `-` and `]` must be escaped there. */
function classChar(cps: readonly number[], i: number): { cp: number; next: number } | undefined {
  const c = cps[i];
  if (c === undefined || c === 0x2d || c === 0x5d) return undefined;
  if (c === 0x5c) {
    const e = cps[i + 1];
    if (e === undefined) return undefined;
    return { cp: e, next: i + 2 };
  }
  return { cp: c, next: i + 1 };
}

function tokenAccepts(t: Token, cp: number): boolean {
  switch (t.kind) {
    case 'any':
      return cp !== SLASH;
    case 'char':
      return cp === t.cp;
    case 'class': {
      let hit = false;
      for (const [lo, hi] of t.ranges) {
        if (lo <= cp && cp <= hi) {
          hit = true;
          break;
        }
      }
      return hit !== t.negated;
    }
    case 'star':
      return false; // stars never reach here: they separate chunks
  }
}

/** Matches `chunk` (no stars) at `at` in `name`; returns the end index, or -1. */
function matchChunk(chunk: readonly Token[], name: readonly number[], at: number): number {
  let i = at;
  for (const t of chunk) {
    const cp = name[i];
    if (cp === undefined || !tokenAccepts(t, cp)) return -1;
    i++;
  }
  return i;
}

/**
 * True if the compiled glob matches the whole of `path`.
 *
 * This follows Go's algorithm rather than a full backtracking search, because the two
 * differ in one corner: after a star, Go commits to the *first* position where the
 * following run of single-character terms matches (only the final run is retried at
 * every position). With `*` unable to cross `/`, a class that accepts `/` can then
 * make Go reject a path a full search would accept (`*[^x]*c` against `a/c`); we
 * reproduce Go. Each step is bounded by the path length, so a hostile path costs
 * O(pattern × path) at worst.
 */
export function globMatches(glob: CompiledGlob, path: string): boolean {
  if (glob.literal !== undefined) return glob.literal === path;
  const name = Array.from(path, (c) => c.codePointAt(0)!);
  const { segments } = glob;
  let pos = 0;
  nextSegment: for (let s = 0; s < segments.length; s++) {
    const { star, chunk } = segments[s]!;
    const last = s === segments.length - 1;
    if (star && chunk.length === 0) {
      // A trailing star: the rest of the path must not contain '/'.
      for (let i = pos; i < name.length; i++) if (name[i] === SLASH) return false;
      return true;
    }
    // Try the chunk right here (this is the only option without a star).
    const here = matchChunk(chunk, name, pos);
    if (here >= 0 && (!last || here === name.length)) {
      pos = here;
      continue;
    }
    if (star) {
      // Let the star eat 1, 2, … non-'/' characters.
      for (let i = pos; i < name.length && name[i] !== SLASH; i++) {
        const end = matchChunk(chunk, name, i + 1);
        if (end < 0) continue;
        if (last && end !== name.length) continue;
        pos = end;
        continue nextSegment;
      }
    }
    return false;
  }
  return pos === name.length;
}

/** Go `path.Match(pattern, path)` with a malformed pattern treated as "no match". */
export function globMatch(pattern: string, path: string): boolean {
  const glob = compileGlob(pattern);
  return glob !== undefined && globMatches(glob, path);
}
