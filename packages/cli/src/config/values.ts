// What every stage of the loader shares: the raw document, a problem, the context
// the value checks run in, and the small readers they use.
import { parseDuration } from '@kes/core/wire';
import { formatPath } from './yaml-path.js';
import type { PathSegment } from './yaml-path.js';

/** A YAML mapping as js-yaml returns it. */
export type Doc = Record<string, unknown>;

/** One problem of a config file, reported as `file:line: path: message`. */
export interface Problem {
  readonly path: readonly PathSegment[];
  readonly message: string;
}

/** What a section check reads and writes. */
export interface CheckContext {
  /** The document after migration, overrides, `${VAR}` substitution and the schema check. */
  readonly doc: Doc;
  /** Problems found so far; checks append to it. */
  readonly problems: Problem[];
  /** Formatted paths that already have a problem (a type error): their value is not checked again. */
  readonly broken: ReadonlySet<string>;
  /** Warnings to show at start; checks append to it. */
  readonly warnings: string[];
  /** Whether the file has a kes v0.x era marker (glob policy semantics). */
  readonly legacy: boolean;
  /** Resolves a relative path in the file against the base directory, if any. */
  readonly resolvePath: (path: string) => string;
}

/** A YAML mapping (not a list, not null). */
export function isMap(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The mapping at `doc[key]`, or an empty one. */
export function mapAt(doc: Doc | undefined, key: string): Doc {
  const v = doc?.[key];
  return isMap(v) ? v : {};
}

/** A non-empty string, else `undefined`. */
export function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The string at the last segment of `path` in `m`; a missing or blank one is a problem (and `''`). */
export function requireStr(m: Doc | undefined, path: PathSegment[], problems: Problem[]): string {
  const key = path[path.length - 1] as string;
  const v = m?.[key];
  if (typeof v !== 'string') {
    if (v === undefined || v === null) problems.push({ path, message: 'is required' });
    return '';
  }
  if (v.trim() === '') problems.push({ path, message: 'must not be empty' });
  return v;
}

/** A Go duration (`30s`, `1h30m`, `0`) in milliseconds; absent → `undefined`, invalid → a problem. */
export function durationMs(v: unknown, path: PathSegment[], ctx: Pick<CheckContext, 'problems' | 'broken'>): number | undefined {
  if (v === undefined || v === null || ctx.broken.has(formatPath(path))) return undefined;
  if (typeof v === 'number') {
    if (v === 0) return 0;
    ctx.problems.push({ path, message: `must be a duration with a unit such as 30s or 5m, not the number ${v}` });
    return undefined;
  }
  let ms: number;
  try {
    ms = parseDuration(String(v).trim());
  } catch {
    ctx.problems.push({ path, message: `'${String(v)}' is not a duration (use e.g. 30s, 5m, 1h30m)` });
    return undefined;
  }
  if (ms < 0) {
    ctx.problems.push({ path, message: 'must not be negative' });
    return undefined;
  }
  return ms;
}

/** The value at `path`, or `undefined` where the path leaves the document. */
export function getIn(doc: unknown, path: readonly PathSegment[]): unknown {
  let v = doc;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isMap(v) && typeof seg === 'string') v = v[seg];
    else return undefined;
  }
  return v;
}

/** Sets the value at `path`, creating (or replacing non-mapping) parents as mappings. */
export function setIn(doc: Doc, path: readonly string[], value: unknown): void {
  let m = doc;
  for (const seg of path.slice(0, -1)) {
    if (!isMap(m[seg])) m[seg] = {};
    m = m[seg] as Doc;
  }
  m[path[path.length - 1] as string] = value;
}
