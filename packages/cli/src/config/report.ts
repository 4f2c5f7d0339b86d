// Problems → one ConfigError: one line per field (the first problem found), ordered by
// the line it is written on, as `file:line: path: message` (or `--flag: message`).
import { ConfigError } from './config-error.js';
import type { Problem } from './values.js';
import { formatPath, locateLine } from './yaml-path.js';
import type { PathSegment } from './yaml-path.js';

/** Where the problems come from. */
export interface ProblemSource {
  /** File name for the lines. */
  readonly file: string;
  /** The file's text, to find the line of each path. */
  readonly text: string;
  /** New path → where a migrated field was written in the file (from the legacy migration). */
  readonly aliases: ReadonlyMap<string, readonly PathSegment[]>;
  /** Formatted path → flag, for values that came from a flag. */
  readonly fromFlags: ReadonlyMap<string, string>;
}

/** The error listing `problems` (at least one), each with its line. */
export function problemsError(problems: readonly Problem[], source: ProblemSource): ConfigError {
  const seen = new Set<string>();
  const located = problems
    .filter((p) => {
      const k = formatPath(p.path);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((p) => ({ p, at: locateLine(source.text, p.path) ?? locateAlias(source, p.path) }));
  located.sort((a, b) => (a.at ?? Number.MAX_SAFE_INTEGER) - (b.at ?? Number.MAX_SAFE_INTEGER));
  return new ConfigError(
    located.map(({ p, at }) => {
      // A value that came from a flag is reported under the flag, not under a file line.
      const flag = source.fromFlags.get(formatPath(p.path));
      if (flag !== undefined) return `--${flag}: ${p.message}`;
      return `${source.file}${at !== undefined ? `:${at}` : ''}: ${formatPath(p.path)}: ${p.message}`;
    }),
  );
}

/** The line of a migrated field: where its old name (or an old ancestor) is written. */
function locateAlias(source: ProblemSource, path: readonly PathSegment[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const old = source.aliases.get(path.slice(0, n).join('.'));
    if (old) return locateLine(source.text, [...old, ...path.slice(n)]);
  }
  return undefined;
}
