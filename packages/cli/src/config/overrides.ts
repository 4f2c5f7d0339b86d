// Flag values (`--addr`, `--root`, `--cert`, `--key`, `--auth`) written into the document
// before it is checked, so they pass the same checks as the file's values.
import type { ConfigOverrides } from './types.js';
import { getIn, setIn } from './values.js';
import type { Doc } from './values.js';
import { formatPath } from './yaml-path.js';

/** Where each override goes in the document, and its flag. */
const TARGETS: readonly (readonly [keyof ConfigOverrides, string, readonly string[]])[] = [
  ['address', 'addr', ['address']],
  ['admin', 'root', ['admin', 'identity']],
  ['cert', 'cert', ['tls', 'cert']],
  ['key', 'key', ['tls', 'key']],
  ['auth', 'auth', ['tls', 'auth']],
];

/**
 * Writes the flag values into `doc`; a flag that replaces a different value from the
 * file adds a warning.
 *
 * @returns formatted path → flag name, so a problem with such a value is reported under its flag.
 */
export function applyOverrides(doc: Doc, overrides: ConfigOverrides | undefined, warnings: string[], file: string): Map<string, string> {
  const fromFlags = new Map<string, string>();
  if (!overrides) return fromFlags;
  for (const [field, flag, path] of TARGETS) {
    const value = overrides[field];
    if (value === undefined) continue;
    const old = getIn(doc, path);
    if (typeof old === 'string' && old !== '' && old !== value) warnings.push(`--${flag} overrides '${path.join('.')}' from ${file}`);
    setIn(doc, path, value);
    fromFlags.set(formatPath(path), flag);
  }
  return fromFlags;
}
